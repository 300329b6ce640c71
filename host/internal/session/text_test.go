package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		in, want string
		bad      string // in the error; "" means accepted
	}{
		{"hello", "hello", ""},
		{"two\nlines\tand a tab", "two\nlines\tand a tab", ""},
		{"windows\r\nline endings\r\n", "windows\nline endings\n", ""},
		{"ünïcödé ✓", "ünïcödé ✓", ""},
		{"stop\x03", "", "U+0003 at byte 4"},
		{"\x1b[201~escaped the paste", "", "U+001B at byte 0"},
		{"a lone\rreturn", "", "U+000D at byte 6"},
		{"nul\x00", "", "U+0000"},
		{"del\x7f", "", "U+007F"},
		{"c1 \u009b31m", "", "U+009B"},
	}
	for _, tt := range tests {
		got, err := CleanText(tt.in)
		if tt.bad == "" {
			if err != nil || got != tt.want {
				t.Errorf("CleanText(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrControlChar) || !strings.Contains(err.Error(), tt.bad) {
			t.Errorf("CleanText(%q) = %q, %v; want ErrControlChar naming %s", tt.in, got, err, tt.bad)
		}
	}
}

// dying is an agent that exits during a Send, at the step named by at:
// "typing" fails the write of the text, "silent" takes the text without
// echo and exits, "enter" fails the write of Enter. As with a real
// terminal, a failed write comes before the host records the exit.
type dying struct {
	s      *Session
	at     string
	failed bool

	mu     sync.Mutex
	writes []string
}

func (w *dying) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	enter := string(p) == "\r"
	exit := func() { go w.s.Exited("exited with code 7", w.failed) }
	switch {
	case w.at == "typing" && !enter, w.at == "enter" && enter:
		exit()
		return 0, errors.New("write: broken pipe")
	case w.at == "silent" && !enter:
		exit()
		return len(p), nil
	case !enter:
		w.s.Feed([]byte("\x1b[H\x1b[2J" + strings.Repeat("─", 40) + "\r\n❯ " + string(p) + "\r\n" + strings.Repeat("─", 40)))
	}
	return len(p), nil
}

func TestSendToAnAgentThatExitsMidSend(t *testing.T) {
	tests := []struct {
		at     string
		failed bool
		want   error
	}{
		{"typing", true, ErrFailed},
		{"silent", true, ErrFailed},
		{"enter", true, ErrFailed},
		{"enter", false, ErrStopped},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			w := &dying{at: tt.at, failed: tt.failed}
			s, err := New(Options{Adapter: fakeAdapter{}, Input: w, Cols: 60, Rows: 10, ReactTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Exited("test over", false)
			w.s = s
			s.Feed([]byte(strings.Repeat("─", 40) + "\r\n❯ \r\n" + strings.Repeat("─", 40)))
			_, err = s.Send(context.Background(), "hi", true, time.Hour)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Send = %v; want %v, not a write error", err, tt.want)
			}
			if tt.failed && !strings.Contains(err.Error(), "code 7") {
				t.Errorf("Send = %v; want the exit's reason in it", err)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if tt.at != "enter" && len(w.writes) != 1 {
				t.Errorf("writes %q; want no Enter once the agent exited", w.writes)
			}
		})
	}
}

// A control character is refused before anything is typed: Ctrl-C would
// end the agent, ESC a bracketed paste.
func TestSendRefusesControlCharacters(t *testing.T) {
	w := &dying{at: "never"}
	s, err := New(Options{Adapter: fakeAdapter{}, Input: w, Cols: 60, Rows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Exited("test over", false)
	w.s = s
	for _, msg := range []string{"stop\x03", "a\nb\x1b[201~c"} {
		if _, err := s.Send(context.Background(), msg, false, time.Hour); !errors.Is(err, ErrControlChar) {
			t.Errorf("Send(%q) = %v; want ErrControlChar", msg, err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.writes) != 0 {
		t.Errorf("typed %q; want nothing", w.writes)
	}
}
