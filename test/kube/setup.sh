#!/bin/sh
# Builds the Kubernetes binaries that the runtime-kubernetes tests run
# against (kube-apiserver, kube-scheduler and kwok, pinned in tools/go.mod)
# and prints the folder that holds them as its last line on stdout.
# Progress goes to stderr.
#
# kwok needs stages (the rules by which it moves fake nodes and pods along)
# and its binary ships none. Beside bin/ this puts kwok-stages/, a copy of
# the stage sets kwok publishes in its module; the tests run kwok with
# --config=<bin>/../kwok-stages/fast, the set kwokctl uses by default.
#
# They are built once per machine into
#   ${XDG_CACHE_HOME:-~/.cache}/parallax/kube/<hash of tools/go.mod+go.sum>/bin
# so a change of a pinned version builds afresh and an unchanged one costs
# nothing. A cold build takes about 10 minutes on two cores (a rebuild with
# Go's build cache warm, under a minute); the Go module proxy is the only
# thing it needs from outside.
#
# Unlike test/docker/setup.sh this one fails (exit 1) when it cannot build:
# the caller (testcluster, beside this script) turns that into a loud skip,
# or a failure under CI=true.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tools=$here/tools

say() { echo "kube setup: $*" >&2; }

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi
}

hash=$(cat "$tools/go.mod" "$tools/go.sum" | sha256 | cut -c1-12)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/parallax/kube/$hash
bin=$dir/bin
stages=$dir/kwok-stages
cmds="kube-apiserver kube-scheduler kwok"

have_all() {
	for c in $cmds; do
		[ -x "$bin/$c" ] || return 1
	done
	[ -f "$stages/fast/kustomization.yaml" ]
}

if have_all; then
	echo "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { say "go is not on PATH"; exit 1; }
mkdir -p "$dir"
# Several test processes may start at once (go test runs packages in
# parallel); one builds while the others wait, then finds the binaries.
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
if have_all; then
	echo "$bin"
	exit 0
fi

# The tools module is not in go.work: its versions would clash with the
# other modules'. The apiserver reports the version it was built from, as a
# release build would, instead of v0.0.0-master.
export GOWORK=off
export GOFLAGS="-mod=readonly -buildvcs=false"
cd "$tools"

# The stages are a kustomize tree whose sets refer to each other by
# relative path, so the whole tree is copied. The module cache is
# read-only; the copy must not be, or it could not be removed.
if [ ! -f "$stages/fast/kustomization.yaml" ]; then
	say "copying kwok's stages into $stages"
	go mod download sigs.k8s.io/kwok
	kwok=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	rm -rf "$stages" "$stages.tmp"
	cp -R "$kwok/kustomize/stage" "$stages.tmp"
	chmod -R u+w "$stages.tmp"
	mv "$stages.tmp" "$stages"
fi
if have_all; then
	echo "$bin"
	exit 0
fi

version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w"
ldflags="$ldflags -X k8s.io/component-base/version.gitVersion=$version"
ldflags="$ldflags -X k8s.io/component-base/version.gitMajor=1"
ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=$minor"
ldflags="$ldflags -X k8s.io/component-base/version.gitTreeState=clean"

# Build into a scratch folder and move the results in at the end, so an
# interrupted build never leaves a half-written binary that looks done.
tmp=$dir/tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
start=$(date +%s)
# go build is silent for minutes at a time; a heartbeat shows it is alive,
# and stops with this script however it ends.
(
	while sleep 60 && kill -0 $$ 2>/dev/null; do
		say "still building ($(($(date +%s) - start))s so far)"
	done
) &
beat=$!
trap 'kill $beat 2>/dev/null; rm -rf "$tmp"' EXIT

say "building $cmds ($version) into $bin"
say "a cold build takes about 10 minutes on two cores; downloading modules first"
go mod download
for pkg in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler sigs.k8s.io/kwok/cmd/kwok; do
	name=$(basename "$pkg")
	say "building $name ($(($(date +%s) - start))s so far)"
	go build -trimpath -ldflags="$ldflags" -o "$tmp/$name" "$pkg"
done

mkdir -p "$bin"
for c in $cmds; do
	mv -f "$tmp/$c" "$bin/$c"
done
say "done in $(($(date +%s) - start))s"
echo "$bin"
