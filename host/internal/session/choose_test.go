package session

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
)

// laggyMenu is a two-choice menu, drawn straight into a session, that
// acts like an Ink menu on a busy machine: an arrow moves the highlight
// only when the menu redraws, lag later, and Enter picks the highlight
// drawn last. The first drop arrows are not read at all, like keys that
// come before the menu listens.
type laggyMenu struct {
	s    *Session
	lag  time.Duration
	mu   sync.Mutex
	drop int
	// next is where the arrows read so far put the highlight; drawn is
	// where the screen shows it, which is what Enter acts on.
	next, drawn int
	picked      []int
}

const laggyQuestion = "Do you want to use this API key?"

var laggyChoices = []string{"Yes", "No (recommended)"}

func (m *laggyMenu) draw() {
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J" + laggyQuestion + "\r\n\r\n")
	for i, c := range laggyChoices {
		mark := "  "
		if i == m.drawn {
			mark = "❯ "
		}
		fmt.Fprintf(&b, "%s%d. %s\r\n", mark, i+1, c)
	}
	m.s.Feed([]byte(b.String()))
}

func (m *laggyMenu) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for in := string(p); in != ""; {
		switch {
		case strings.HasPrefix(in, "\x1b[A"), strings.HasPrefix(in, "\x1b[B"):
			up := in[2] == 'A'
			in = in[3:]
			if m.drop > 0 {
				m.drop--
				continue
			}
			if up {
				m.next = max(0, m.next-1)
			} else {
				m.next = min(len(laggyChoices)-1, m.next+1)
			}
			to := m.next
			time.AfterFunc(m.lag, func() {
				m.mu.Lock()
				defer m.mu.Unlock()
				if len(m.picked) == 0 {
					m.drawn = to
					m.draw()
				}
			})
		case in[0] == '\r':
			in = in[1:]
			m.picked = append(m.picked, m.drawn+1)
			rule := strings.Repeat("─", 40)
			m.s.Feed([]byte("\x1b[H\x1b[2J" + rule + "\r\n❯ \r\n" + rule + "\r\n"))
		default:
			return 0, fmt.Errorf("laggyMenu: unexpected input %q", in)
		}
	}
	return len(p), nil
}

func (m *laggyMenu) choices() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.picked...)
}

// Choose presses Enter only once the screen shows the choice highlighted,
// so a slow redraw or a lost arrow can't make it pick the other one.
func TestChooseWaitsForTheHighlight(t *testing.T) {
	tests := []struct {
		name   string
		choice int
		lag    time.Duration
		drop   int
		want   []int // the choices the menu saw picked
		err    error
	}{
		{"no arrow needed", 2, 0, 0, []int{2}, nil},
		{"arrow drawn at once", 1, 0, 0, []int{1}, nil},
		// Longer than KeyGap: before the fix the Enter came first and
		// picked "No".
		{"arrow drawn late", 1, 400 * time.Millisecond, 0, []int{1}, nil},
		{"first arrow lost", 1, 0, 1, []int{1}, nil},
		// Never Enter on a choice the user didn't ask for.
		{"arrows never taken", 1, 0, 1000, nil, ErrNoReaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &laggyMenu{lag: tt.lag, drop: tt.drop, next: 1, drawn: 1}
			s, err := New(Options{Adapter: fakeAdapter{}, Input: m, Cols: 60, Rows: 10, ReactTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Exited("test over", false)
			m.s = s
			m.mu.Lock()
			m.draw()
			m.mu.Unlock()
			runtimetest.Eventually(t, deadline, "the question pending", func() bool {
				p := s.Pending()
				return p != nil && p.Selected == 1 && p.Question == laggyQuestion
			}, func() string { return "screen:\n" + s.Screen().Text() })

			err = s.Choose(tt.choice)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Choose(%d) = %v, want %v", tt.choice, err, tt.err)
			}
			if got := m.choices(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("the menu saw choices %v picked, want %v", got, tt.want)
			}
		})
	}
}
