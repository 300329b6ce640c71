#!/bin/sh
# Installs the agent CLIs pinned in package-lock.json (Claude Code, Codex
# CLI, Gemini CLI) into a cache outside the repo and prints their bin dir on
# stdout. Progress goes to stderr. The cache is keyed by the lockfile's hash,
# so a second run with the same lockfile does nothing and returns at once.
#
#   PARALLAX_AGENT_CLIS="$(sh test/agent-clis/install.sh)"
#
# With a directory, it installs that directory's lockfile instead:
# test/agent-clis/previous pins the Claude Code release before the pinned
# one, which `make bench` measures beside it.
#
# Needs only node and npm. PARALLAX_CACHE overrides ~/.cache/parallax.
set -eu

here=$(cd "${1:-$(dirname "$0")}" && pwd)
cache=${PARALLAX_CACHE:-${HOME}/.cache/parallax}/agent-clis

command -v node >/dev/null 2>&1 || { echo "install.sh: node not found" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "install.sh: npm not found" >&2; exit 1; }

# sha256sum isn't everywhere (macOS has shasum); node is.
hash=$(node -e '
const c = require("crypto"), fs = require("fs");
process.stdout.write(c.createHash("sha256").update(fs.readFileSync(process.argv[1])).digest("hex").slice(0, 16));
' "$here/package-lock.json")
dir=$cache/$hash
bin=$dir/node_modules/.bin

if [ -f "$dir/.complete" ]; then
	echo "agent CLIs: cached in $dir" >&2
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
# Install into a private temp dir and rename it into place, so an
# interrupted or concurrent run never leaves a half-installed cache behind.
tmp=$(mktemp -d "$cache/.install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
echo "agent CLIs: installing into $dir (takes a minute the first time)" >&2
start=$(date +%s)
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error) 1>&2
for b in $(node -e '
const d = require(process.argv[1]).dependencies, bins = {"@anthropic-ai/claude-code": "claude", "@openai/codex": "codex", "@google/gemini-cli": "gemini"};
console.log(Object.keys(d).map(p => bins[p]).filter(Boolean).join(" "));
' "$here/package.json"); do
	[ -x "$tmp/node_modules/.bin/$b" ] || { echo "install.sh: $b missing after npm ci" >&2; exit 1; }
done
touch "$tmp/.complete"
if ! mv "$tmp" "$dir" 2>/dev/null; then
	# Another run got there first; use its copy.
	[ -f "$dir/.complete" ] || { echo "install.sh: can't move $tmp to $dir" >&2; exit 1; }
fi
echo "agent CLIs: installed in $(($(date +%s) - start))s" >&2
echo "$bin"
