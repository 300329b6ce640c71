package screen

import (
	"bytes"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/hinshun/vt10x"

	"github.com/parallax/parallax/host/internal/adapter"
)

// Screen is the visible terminal of one agent. It models text only:
// colours and titles are dropped on the way in. Safe for concurrent use.
type Screen struct {
	mu         sync.Mutex
	term       vt10x.Terminal
	cols, rows int
	f          filter
	buf        []byte

	// lines is the text as last looked at; dirty says output arrived since,
	// so it may be stale. Comparing rows only when someone looks keeps
	// Write cheap at full PTY speed.
	lines   adapter.Screen
	dirty   bool
	changes uint64
	row     []byte
}

// New returns a blank screen; sizes below 1 mean 80x24.
func New(cols, rows int) *Screen {
	if cols < 1 || rows < 1 {
		cols, rows = 80, 24
	}
	s := &Screen{cols: cols, rows: rows}
	s.reset()
	return s
}

func (s *Screen) reset() {
	s.term = vt10x.New(vt10x.WithSize(s.cols, s.rows))
	s.f = filter{}
	s.dirty = true
}

// Write feeds PTY output. It never fails: what the emulator can't make
// sense of is skipped.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.f.run(s.buf[:0], p)
	if len(s.buf) > 0 {
		s.feed(s.buf)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return len(p), nil
}

// feed survives a panic in vt10x, whose bounds checks are not written for
// hostile input (an agent may cat a binary file), by starting over blank.
func (s *Screen) feed(b []byte) {
	defer func() {
		if recover() != nil {
			s.reset()
		}
	}()
	_, _ = s.term.Write(b)
	s.dirty = true
}

// Resize changes the size; the program redraws when it gets SIGWINCH.
func (s *Screen) Resize(cols, rows int) {
	if cols < 1 || rows < 1 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cols == s.cols && rows == s.rows {
		return
	}
	s.cols, s.rows = cols, rows
	func() {
		defer func() {
			if recover() != nil {
				s.reset()
			}
		}()
		s.term.Resize(cols, rows)
	}()
	s.dirty = true
}

// Size returns the columns and rows.
func (s *Screen) Size() (cols, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cols, s.rows
}

// Lines returns the visible rows, trailing spaces trimmed. A wide rune
// stands for its two cells.
func (s *Screen) Lines() adapter.Screen {
	lines, _ := s.Snapshot()
	return lines
}

// Changes counts the changes of the visible text. Two calls return the same
// number if and only if the text is the same as at the first call, unless
// it changed and changed back in between: the text is compared when it is
// looked at, not on every Write.
func (s *Screen) Changes() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return s.changes
}

// Snapshot returns Lines and Changes as of the same moment.
func (s *Screen) Snapshot() (adapter.Screen, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return slices.Clone(s.lines), s.changes
}

// AppCursor reports whether the program asked for application cursor
// keys (DECCKM), so arrows must be sent as ESC O A rather than ESC [ A.
func (s *Screen) AppCursor() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.Mode()&vt10x.ModeAppCursor != 0
}

func (s *Screen) refresh() {
	if !s.dirty {
		return
	}
	s.dirty = false
	changed := len(s.lines) != s.rows
	if changed {
		s.lines = make(adapter.Screen, s.rows)
	}
	for y := 0; y < s.rows; y++ {
		s.row = s.row[:0]
		for x := 0; x < s.cols; x++ {
			c := s.term.Cell(x, y).Char
			switch c {
			case wideTail:
				continue
			case 0:
				c = ' '
			}
			s.row = utf8.AppendRune(s.row, c)
		}
		row := bytes.TrimRight(s.row, " ")
		if string(row) != s.lines[y] {
			s.lines[y] = string(row)
			changed = true
		}
	}
	if changed {
		s.changes++
	}
}
