package session

import (
	"fmt"
	"github.com/parallax/parallax/host/internal/screen/tuitest"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/screen"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// readyFrame is a faketui prompt box, as one redraw.
func readyFrame(cols int) string {
	rule := strings.Repeat("─", cols)
	return "\x1b[H\x1b[2J" + rule + "\r\n❯ \r\n" + rule + "\r\n  \x1b[2m? for shortcuts\x1b[22m"
}

func TestIdleSessionsHoldNoTimers(t *testing.T) {
	const n = 100
	base := runtime.NumGoroutine()
	sessions := make([]*Session, n)
	for i := range sessions {
		s, err := New(Options{ID: fmt.Sprint(i), Adapter: fakeAdapter{}, Input: io.Discard, Cols: 100, Rows: 30, Settle: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = s
		defer s.Exited("test over", false)
		frame := readyFrame(100)
		// Drawn in pieces, as a TUI does.
		for k := 0; k < len(frame); k += 40 {
			s.Feed([]byte(frame[k:min(k+40, len(frame))]))
		}
	}
	runtimetest.Eventually(t, deadline, "all sessions ready", func() bool {
		for _, s := range sessions {
			if s.Status() != StatusReady {
				return false
			}
		}
		return true
	}, nil)
	for _, s := range sessions {
		if k := s.timersArmed(); k != 0 {
			t.Fatalf("session %s is idle with %d timers armed", s.ID(), k)
		}
	}
	runtimetest.Eventually(t, deadline, "the timer goroutines to end", func() bool { return runtime.NumGoroutine() <= base }, nil)

	before := cpuTime()
	time.Sleep(time.Second)
	used := cpuTime() - before
	t.Logf("%d idle sessions: %v of CPU in 1s (the whole test process, %d goroutines)", n, used, runtime.NumGoroutine())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countingAdapter struct {
	fakeAdapter
	n *atomic.Int64
}

func (c countingAdapter) Detect(s screen.Lines) adapter.Detection {
	c.n.Add(1)
	return c.fakeAdapter.Detect(s)
}

// BenchmarkFeed compares the cost of output with detection on (a session)
// to the screen model alone and to a plain copy.
func BenchmarkFeed(b *testing.B) {
	data := tuitest.Output(4 << 20)
	const chunk = 4096
	run := func(b *testing.B, write func([]byte)) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for i := 0; i < len(data); i += chunk {
				write(data[i:min(i+chunk, len(data))])
			}
		}
	}
	b.Run("discard", func(b *testing.B) { run(b, func(p []byte) { io.Discard.Write(p) }) })
	b.Run("screen", func(b *testing.B) {
		sc := screen.New(120, 40)
		run(b, func(p []byte) { sc.Write(p) })
	})
	b.Run("session", func(b *testing.B) {
		var n atomic.Int64
		s, err := New(Options{Adapter: countingAdapter{n: &n}, Input: io.Discard, Cols: 120, Rows: 40})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Exited("bench over", false)
		start := time.Now()
		run(b, s.Feed)
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "detections/s")
	})
}
