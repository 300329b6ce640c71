#!/bin/sh
# Makes Debian's chromium available for the browser end-to-end test
# (host/e2e/browser_test.go), for `make test` and CI: if `chromium` is not
# on PATH it installs the chromium package with apt-get (as root; otherwise
# it says what to install).
#
# It never fails the build by itself: without chromium the browser test
# skips with a loud message, and fails under CI=true, where chromium must be
# there. This script says the same, loudly, so a skip is seen even where go
# test hides the skipped tests' output.
set -u

say() { echo "browser setup: $*" >&2; }
warn() {
	{
		echo
		echo "*** browser setup: $* ***"
		echo "*** the browser test (host/e2e TestBrowser*) will SKIP (and FAIL under CI=true) ***"
		echo
	} >&2
	exit 0
}

if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		warn "chromium is missing; install with: sudo apt-get install -y chromium"
	fi
	say "installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	(apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 ||
		warn "apt-get install chromium failed"
	command -v chromium >/dev/null 2>&1 || warn "chromium is still not on PATH after apt-get install"
fi
say "$(chromium --version 2>/dev/null || echo chromium) at $(command -v chromium)"
