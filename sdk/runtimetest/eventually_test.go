package runtimetest

import (
	"fmt"
	"testing"
	"time"
)

// recordingTB records Fatalf instead of failing, so a test can watch
// Eventually fail. Any other method of the nil TB panics: Eventually must
// not need them.
type recordingTB struct {
	testing.TB
	fatals []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

func TestEventuallyPassesOnceTheConditionHolds(t *testing.T) {
	var tb recordingTB
	calls := 0
	Eventually(&tb, time.Minute, "the third call", func() bool {
		calls++
		return calls == 3
	}, func() string { return "unused" })
	if len(tb.fatals) != 0 {
		t.Errorf("failed with %q on a condition that came true", tb.fatals)
	}
	if calls != 3 {
		t.Errorf("cond called %d times, want 3: polling stops once it holds", calls)
	}
}

func TestEventuallyFailsWhenTheConditionNeverHolds(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name string
		seen func() string
		want string
	}{
		{"with seen", func() string { return "status starting" }, "timed out after 100ms waiting for the agent to run; last seen: status starting"},
		{"without seen", nil, "timed out after 100ms waiting for the agent to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tb recordingTB
			began := time.Now()
			Eventually(&tb, timeout, "the agent to run", func() bool { return false }, tt.seen)
			if took := time.Since(began); took < timeout {
				t.Errorf("gave up after %v, before the timeout of %v", took, timeout)
			}
			if len(tb.fatals) != 1 || tb.fatals[0] != tt.want {
				t.Errorf("Fatalf calls %q, want one: %q", tb.fatals, tt.want)
			}
		})
	}
}
