#!/bin/sh
# Makes a Docker engine and the runtime-docker test image available, for
# `make test` and CI:
#
#   1. installs docker.io and busybox-static with apt-get if they are
#      missing (as root; otherwise it says what to install);
#   2. starts dockerd in the background if no engine answers, logging to
#      ${PARALLAX_CACHE:-~/.cache/parallax}/dockerd.log, and waits for it;
#   3. builds the test image (FROM scratch + Debian's static busybox),
#      which needs no registry.
#
# It never fails the build by itself: without an engine the runtime-docker
# tests skip with a loud message, and fail under CI=true, where an engine
# must be there. This script says the same, loudly, so a skip is seen even
# where go test hides the skipped tests' output.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${PARALLAX_CACHE:-${HOME}/.cache/parallax}
image=parallax/runtime-docker-test:busybox
log=$cache/dockerd.log

say() { echo "docker setup: $*" >&2; }
warn() {
	{
		echo
		echo "*** docker setup: $* ***"
		echo "*** the runtime-docker tests will SKIP (and FAIL under CI=true) ***"
		echo
	} >&2
	exit 0
}
engine_up() { docker info >/dev/null 2>&1; }

missing=""
# The docker CLI checks the engine and builds the image; dockerd is only
# needed when no engine answers.
if ! command -v docker >/dev/null 2>&1 || { ! engine_up && ! command -v dockerd >/dev/null 2>&1; }; then
	missing="$missing docker.io"
fi
# The image has no libc, so its busybox must be static (Debian's plain
# busybox package is not).
static_busybox() { [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; }
static_busybox || missing="$missing busybox-static"
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		warn "missing$missing; install with: sudo apt-get install -y$missing"
	fi
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	(apt-get update -qq && apt-get install -y -qq $missing) >/dev/null 2>&1 ||
		warn "apt-get install$missing failed"
fi

if ! engine_up; then
	if [ -n "${DOCKER_HOST:-}" ]; then
		warn "no engine answers at DOCKER_HOST=$DOCKER_HOST"
	fi
	if [ "$(id -u)" != 0 ]; then
		warn "no engine answers and only root may start one here: start it (systemctl start docker) or join the docker group"
	fi
	command -v dockerd >/dev/null 2>&1 || warn "no dockerd to start"
	mkdir -p "$cache"
	say "starting dockerd (log: $log)"
	# No bridge and no iptables: the tests run every container with network
	# "none", and a sandbox may forbid both. setsid detaches it from this
	# shell, so it outlives make and Ctrl-C.
	setsid dockerd --bridge=none --iptables=false >>"$log" 2>&1 </dev/null &
	i=0
	until engine_up; do
		i=$((i + 1))
		[ "$i" -gt 60 ] && warn "dockerd did not answer within 30s; see $log"
		sleep 0.5
	done
fi

# The image is rebuilt every time; the engine's build cache makes that a
# no-op when nothing changed.
static_busybox || warn "no static /bin/busybox; install busybox-static"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM
cp "$repo/plugins/runtime-docker/internal/testengine/busybox.Dockerfile" "$ctx/Dockerfile"
cp /bin/busybox "$ctx/busybox"
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log" ||
	{ cat "$ctx/build.log" >&2; warn "building $image failed"; }
say "engine up ($(docker version --format '{{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null)), image $image built"
