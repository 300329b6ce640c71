package session

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/screen"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// bash starts an interactive bash, as a custom agent of argv ["bash"]
// runs: with the host's prompt integration unless marks is false, then
// with a plain prompt of its own.
func bash(t testing.TB, opts Options, marks bool) *agent {
	t.Helper()
	launch, err := adapter.Custom{}.Launch(adapter.LaunchOptions{Command: []string{"bash", "--norc", "--noprofile"}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(launch.Argv[0], launch.Argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "TERM=xterm-256color", "PS1=ready> "}
	if marks {
		if launch.Env["PROMPT_COMMAND"] == "" {
			t.Fatal("a custom bash agent gets no prompt integration")
		}
		cmd.Env = append(cmd.Env, "PROMPT_COMMAND="+launch.Env["PROMPT_COMMAND"])
	}
	if opts.Adapter == nil {
		opts.Adapter = adapter.Custom{}
	}
	return startProgram(t, opts, cmd)
}

// statusReasons lists the reasons of the agent's status events.
func (a *agent) statusReasons() string {
	var out []string
	for _, e := range a.events(events.Status) {
		out = append(out, e.Data.(events.StatusData).Reason)
	}
	return strings.Join(out, "; ")
}

// TestShellTurnEndsOnItsPromptMark: a command quiet for longer than the
// settle a custom agent's turn ends by without marks still ends its turn
// only when the next prompt is drawn, and the reply is its output.
func TestShellTurnEndsOnItsPromptMark(t *testing.T) {
	tests := []struct {
		name  string
		marks bool
		ready *regexp.Regexp
		rule  string
	}{
		{"the host's prompt integration (OSC 133)", true, nil, "prompt mark (OSC 133)"},
		{"a ready pattern on the last row", false, regexp.MustCompile(`^ready>$`), "ready_pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bash(t, Options{Adapter: adapter.WithReadyPattern(adapter.Custom{}, tt.ready), Settle: 100 * time.Millisecond}, tt.marks)
			a.waitStatus(t, StatusReady)
			if got := a.send(t, "echo hi"); got != "hi" {
				t.Errorf("reply to echo = %q, want hi", got)
			}
			// Without a positive signal, 4 x 100ms of quiet ends the turn
			// long before the command does.
			if got := a.send(t, "sleep 1; echo done"); got != "done" {
				t.Errorf("reply to a command quiet for 1s = %q, want done", got)
			}
			if r := a.statusReasons(); !strings.Contains(r, "prompt shown: "+tt.rule) {
				t.Errorf("status reasons %q name no %q", r, tt.rule)
			}
		})
	}
}

// TestReadyPatternHoldsReadyUntilItMatches: a screen that is still but
// whose last row doesn't match is not ready.
func TestReadyPatternHoldsReadyUntilItMatches(t *testing.T) {
	a := bash(t, Options{Adapter: adapter.WithReadyPattern(adapter.Custom{}, regexp.MustCompile(`^go>$`)), Settle: 50 * time.Millisecond}, false)
	time.Sleep(500 * time.Millisecond) // ten settles: without the pattern, ready
	if st := a.Status(); st != StatusStarting {
		t.Fatalf("status %s at a still screen showing %q, want starting", st, a.Screen().Text())
	}
	if _, err := a.pty.WriteString("PS1='go> '\r"); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, StatusReady)
}

// BenchmarkShellEchoRoundTrip sends `echo` to a custom bash agent and
// waits for the reply, with the host's prompt integration and without,
// side by side: ms/op is the round trip.
func BenchmarkShellEchoRoundTrip(b *testing.B) {
	for _, marks := range []bool{true, false} {
		name := "prompt-marks"
		if !marks {
			name = "quiet-screen"
		}
		b.Run(name, func(b *testing.B) {
			a := bash(b, Options{}, marks)
			runtimetest.Eventually(b, deadline, "status ready", func() bool { return a.Status() == StatusReady }, func() string { return string(a.Status()) })
			b.ResetTimer()
			for i := range b.N {
				want := fmt.Sprintf("round-trip-%d", i)
				msg, err := a.Send(context.Background(), "echo "+want, true, deadline)
				if err != nil || msg.Content != want {
					b.Fatalf("send: %q, %v; want %q", msg.Content, err, want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// regionedFake is fakeAdapter with the prompt box and its footer as its
// ready region.
type regionedFake struct{ fakeAdapter }

func (regionedFake) ReadyRegion(s screen.Lines) screen.Lines {
	for i, row := range s {
		if strings.HasPrefix(row, "──────────") {
			return s[i:]
		}
	}
	return nil
}

// TestAnAnimationAboveThePromptDoesNotHoldReadyBack: a TUI animating its
// logo for two seconds after its prompt box is up (Claude Code 2.1.332)
// is ready while the logo still moves when its adapter names the prompt's
// region; without one, only once the whole screen is still.
func TestAnAnimationAboveThePromptDoesNotHoldReadyBack(t *testing.T) {
	tests := []struct {
		name    string
		adapter adapter.Adapter
		logo    *regexp.Regexp // the top row when ready counted
	}{
		{"the prompt's region still", regionedFake{}, regexp.MustCompile(`^✻ logo frame \d+$`)},
		{"the whole screen still", fakeAdapter{}, regexp.MustCompile(`^✻ logo done$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startProgram(t, Options{Adapter: tt.adapter}, exec.Command(fakeBin, "-animate=2s"))
			a.waitStatus(t, StatusReady)
			a.mu.Lock()
			lines := a.readyLines
			a.mu.Unlock()
			if len(lines) == 0 || !tt.logo.MatchString(lines[0]) {
				t.Errorf("the screen when ready counted:\n%s\nwant its top row to match %v", lines.Text(), tt.logo)
			}
			// The fake's logo would draw over its transcript.
			a.eventually(t, "the animation to end", func() bool { return strings.Contains(a.Screen().Text(), "logo done") })
			if got := a.send(t, "hi"); got != "reply to: hi" {
				t.Errorf("reply %q", got)
			}
		})
	}
}

// titledFake is fakeAdapter for a faketui that titles its work.
type titledFake struct{ fakeAdapter }

func (titledFake) BusyTitle(title string) bool { return strings.HasPrefix(title, "⠋ ") }

// TestATitledTurnStillAfterEnterIsWaitedFor: a CLI that titles its work,
// still for longer than 4 Settles after Enter (as Claude Code on a loaded
// machine), gets its turn waited for, and the reply to the same message
// sent before is not taken for this turn's.
func TestATitledTurnStillAfterEnterIsWaitedFor(t *testing.T) {
	a := startProgram(t, Options{Adapter: titledFake{}}, exec.Command(fakeBin, "-titled", "-number", "-still=2s"))
	a.waitStatus(t, StatusReady)
	for i := 1; i <= 3; i++ {
		if got, want := a.send(t, "hi"), fmt.Sprintf("reply %d to: hi", i); got != want {
			t.Errorf("send %d: reply %q, want %q; screen:\n%s", i, got, want, a.Screen().Text())

		}
	}
}

// TestAQueuedMessageIsWaitedFor: a message the CLI queued while it started
// (Gemini CLI), then its bare prompt for a moment before the turn: the
// turn ends with the reply, not at that prompt.
func TestAQueuedMessageIsWaitedFor(t *testing.T) {
	a := startProgram(t, Options{Adapter: fakeAdapter{}}, exec.Command(fakeBin, "-queue=500ms"))
	a.waitStatus(t, StatusReady)
	if got := a.send(t, "hi"); got != "reply to: hi" {
		t.Errorf("reply %q; status reasons: %s", got, a.statusReasons())
	}
}
