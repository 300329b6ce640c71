package runtimetest

import (
	"testing"
	"time"
)

// Eventually polls cond every 20 ms until it holds, and fails t once
// timeout passed. The failure names what was awaited and, when seen is
// not nil, what seen says it last saw.
//
// cond runs on the caller's goroutine, so it may call t.Fatal itself.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool, seen func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			if seen == nil {
				t.Fatalf("timed out after %v waiting for %s", timeout, what)
			} else {
				t.Fatalf("timed out after %v waiting for %s; last seen: %s", timeout, what, seen())
			}
			// A TB whose Fatalf returns, like a recording fake, must
			// not keep us polling.
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
