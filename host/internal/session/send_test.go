package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
)

// inlineTUI draws like Claude Code: on the main screen, no full redraws.
// What is done (the echoed message, the reply) is printed once and
// scrolls up as the terminal scrolls; below it, the prompt box and its
// footer are erased and drawn again in place. A reply taller than the
// screen so scrolls its start off the top. Its output reaches the session
// from another goroutine, in pieces, as from a PTY.
type inlineTUI struct {
	s     *Session
	cols  int
	lines int // how many lines a reply to "long" has

	mu      sync.Mutex
	typed   string
	dynamic int // rows of the prompt box region now on screen
	out     chan string
}

func newInlineTUI(cols, lines int) *inlineTUI {
	return &inlineTUI{cols: cols, lines: lines, out: make(chan string, 64)}
}

// run feeds the output to the session until out is closed.
func (w *inlineTUI) run() {
	for o := range w.out {
		for len(o) > 0 {
			n := min(len(o), 700)
			w.s.Feed([]byte(o[:n]))
			o = o[n:]
		}
	}
}

// box erases the prompt box region and draws it again, with input in it
// and, busy or not, its footer.
func (w *inlineTUI) boxLocked(static string, busy bool) string {
	var b strings.Builder
	if w.dynamic > 0 {
		if w.dynamic > 1 {
			fmt.Fprintf(&b, "\x1b[%dA", w.dynamic-1)
		}
		b.WriteString("\r\x1b[J")
	}
	b.WriteString(static)
	rule := "\x1b[2m" + strings.Repeat("─", w.cols) + "\x1b[22m"
	footer := "  ? for shortcuts · ← for agents"
	rows := []string{}
	if busy {
		rows = append(rows, "✢ Pondering… (esc to interrupt)", "")
		footer = "  esc to interrupt · ← for agents"
	}
	rows = append(rows, rule, "❯ "+w.typed, rule, footer, strings.Repeat(" ", w.cols-18)+"● high · /effort")
	b.WriteString(strings.Join(rows, "\r\n"))
	w.dynamic = len(rows)
	return b.String()
}

func (w *inlineTUI) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out <- w.boxLocked(" ✻ InlineTUI v1\r\n\r\n", false)
}

func (w *inlineTUI) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if string(p) != "\r" {
		w.typed += string(p)
		w.out <- w.boxLocked("", false)
		return len(p), nil
	}
	text := w.typed
	w.typed = ""
	w.out <- w.boxLocked("❯ "+text+"\r\n\r\n", true)
	time.AfterFunc(200*time.Millisecond, func() {
		var reply []string
		if text == "long" {
			for i := 1; i <= w.lines; i++ {
				reply = append(reply, fmt.Sprintf("Line %d of %d.", i, w.lines))
			}
		} else {
			reply = []string{"reply to: " + text}
		}
		var b strings.Builder
		for i, line := range reply {
			if i == 0 {
				b.WriteString("● " + line + "\r\n")
			} else {
				b.WriteString("  " + line + "\r\n")
			}
		}
		b.WriteString("\r\n✻ Baked for 1s\r\n\r\n")
		w.mu.Lock()
		defer w.mu.Unlock()
		w.out <- w.boxLocked(b.String(), false)
	})
	return len(p), nil
}

func TestReplyLongerThanTheScreen(t *testing.T) {
	const cols, rows, lines = 100, 30, 100
	w := newInlineTUI(cols, lines)
	s, err := New(Options{Adapter: adapter.Claude{}, Input: w, Cols: cols, Rows: rows, Settle: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.s = s
	go w.run()
	defer func() {
		s.Exited("test over", false)
		close(w.out)
	}()
	w.start()

	var want []string
	for i := 1; i <= lines; i++ {
		want = append(want, fmt.Sprintf("Line %d of %d.", i, lines))
	}
	// Twice: the second reply comes from lines that scrolled off after
	// the first one's, and the first is not in it.
	for try := 1; try <= 2; try++ {
		msg, err := s.Send(context.Background(), "long", true, deadline)
		if err != nil {
			t.Fatalf("Send %d: %v\nscreen:\n%s", try, err, s.Screen().Text())
		}
		if got := msg.Content; got != strings.Join(want, "\n") {
			t.Fatalf("reply %d has %d lines, want the %d lines in order:\n%s", try, strings.Count(got, "\n")+1, lines, got)
		}
	}
	// The screen alone holds less than a third of it.
	if scr := s.Screen().Text(); strings.Contains(scr, "Line 1 of") {
		t.Fatalf("the reply's start is still on screen; it should have scrolled off:\n%s", scr)
	}
	// A short reply after a long one is only its own.
	msg, err := s.Send(context.Background(), "ping", true, deadline)
	if err != nil || msg.Content != "reply to: ping" {
		t.Fatalf("Send after the long replies = %q, %v", msg.Content, err)
	}
}

// loginMidTurn is an agent whose turn ends at a sign-in screen, as when
// its key is refused.
type loginMidTurn struct{ s *Session }

func (w loginMidTurn) Write(p []byte) (int, error) {
	rule := strings.Repeat("─", 40)
	if string(p) != "\r" {
		w.s.Feed([]byte("\x1b[H\x1b[2J" + rule + "\r\n❯ " + string(p) + "\r\n" + rule))
		return len(p), nil
	}
	w.s.Feed([]byte("\x1b[H\x1b[2J⠋ esc to interrupt"))
	time.AfterFunc(100*time.Millisecond, func() {
		w.s.Feed([]byte("\x1b[H\x1b[2JSign in to continue\r\nOpen https://login.example.com/device"))
	})
	return len(p), nil
}

func TestSendEndsWhenTheTurnEndsAtALogin(t *testing.T) {
	var w loginMidTurn
	s, err := New(Options{Adapter: fakeAdapter{}, Input: &w, Cols: 60, Rows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Exited("test over", false)
	w.s = s
	s.Feed([]byte(strings.Repeat("─", 40) + "\r\n❯ \r\n" + strings.Repeat("─", 40)))
	// The deadline is far; Send must return once the login shows.
	_, err = s.Send(context.Background(), "hi", true, time.Hour)
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "login required") {
		t.Fatalf("Send = %v, want ErrBlocked for the login", err)
	}
}
