#!/bin/sh
# Installs the latest published agent CLIs (not the pinned ones) into a
# temp cache of their own, reports their versions against the pinned ones on
# stderr and prints their bin dir on stdout, for `make agent-clis-latest`,
# which runs the real-CLI tests against them to show what a new release
# broke. The cache is replaced on every run (it is ~750 MB), and is never
# the one install.sh uses.
#
#   PARALLAX_AGENT_CLIS="$(sh test/agent-clis/latest.sh)"
set -eu

dir=${TMPDIR:-/tmp}/parallax-agent-clis-latest
rm -rf "$dir"
mkdir -p "$dir"
pkgs="@anthropic-ai/claude-code @openai/codex @google/gemini-cli"
echo "agent CLIs (latest): installing into $dir" >&2
cat >"$dir/package.json" <<'JSON'
{
  "name": "parallax-agent-clis-latest",
  "private": true,
  "allowScripts": { "@anthropic-ai/claude-code": true, "@github/keytar": true, "node-pty": true }
}
JSON
# shellcheck disable=SC2086 # pkgs is a list
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error $pkgs@latest) 1>&2

here=$(cd "$(dirname "$0")" && pwd)
echo "agent CLIs (latest) vs pinned:" >&2
for p in $pkgs; do
	got=$(node -p "require('$dir/node_modules/$p/package.json').version")
	pinned=$(node -p "require('$here/package.json').dependencies['$p']")
	mark=""
	[ "$got" = "$pinned" ] || mark="  (pinned $pinned)"
	echo "  $p $got$mark" >&2
done
echo "$dir/node_modules/.bin"
