package screen

import (
	"io"
	"strings"
	"sync"
)

// Lines is the visible terminal as text, one string per row, trailing
// spaces trimmed: what Screen shows, and what the adapters read.
type Lines []string

// Text joins the rows with newlines.
func (l Lines) Text() string { return strings.Join(l, "\n") }

// Screen is the visible terminal of one agent. It models text only:
// colours and titles are dropped on the way in. Safe for concurrent use.
type Screen struct {
	mu   sync.Mutex
	term *term

	// responder gets the replies to terminal queries. replyMu keeps two
	// Writes from writing to it at once; it is taken without mu held, so
	// a slow responder never holds up the screen.
	responder io.Writer
	replyMu   sync.Mutex

	// lines is the text as last looked at; dirty says output arrived since,
	// so it may be stale. Comparing rows only when someone looks keeps
	// Write cheap at full PTY speed.
	lines   Lines
	dirty   bool
	changes uint64
	row     []byte
	written uint64
}

// New returns a blank screen; sizes below 1 mean 80x24.
func New(cols, rows int) *Screen {
	if cols < 1 || rows < 1 {
		cols, rows = 80, 24
	}
	return &Screen{term: newTerm(cols, rows), dirty: true}
}

// Write feeds PTY output. It never fails: what the emulator can't make
// sense of is skipped.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.term.write(p)
	s.dirty = true
	s.written += uint64(len(p))
	replies, w := s.term.replies, s.responder
	s.term.replies = nil
	s.mu.Unlock()

	if len(replies) > 0 && w != nil {
		s.replyMu.Lock()
		_, _ = w.Write(replies)
		s.replyMu.Unlock()
	}
	return len(p), nil
}

// SetResponder makes the screen answer the terminal queries programs send
// (device attributes, status and cursor position reports, colours) by
// writing the replies to w, usually the program's input. Some programs
// wait for an answer. With no responder, or a nil one, queries go
// unanswered.
func (s *Screen) SetResponder(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = w
	s.term.answer = w != nil
}

// Resize changes the size; the program redraws when it gets SIGWINCH.
func (s *Screen) Resize(cols, rows int) {
	if cols < 1 || rows < 1 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cols == s.term.cols && rows == s.term.rows {
		return
	}
	s.term.resize(cols, rows)
	s.dirty = true
}

// Size returns the columns and rows.
func (s *Screen) Size() (cols, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.cols, s.term.rows
}

// Lines returns the visible rows, trailing spaces trimmed. A wide rune
// stands for its two cells.
func (s *Screen) Lines() Lines {
	lines, _ := s.Snapshot()
	return lines
}

// History returns the lines that scrolled off the top of the main screen,
// oldest first, trailing spaces trimmed: at most the last 2000. Lines the
// program scrolls within part of the screen, or on the alternate screen,
// are not kept.
func (s *Screen) History() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.history()
}

// Scrolled counts the lines that have scrolled off the top of the main
// screen into the history since the screen was made. It only grows, also
// when the history drops its oldest lines or is cleared (ESC [ 3 J), so
// two of its values bound the lines that scrolled off between them: see
// ScrolledLines.
func (s *Screen) Scrolled() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.scrolled
}

// ScrolledLines returns the lines that scrolled off the top after Scrolled
// returned from and before it returned to, oldest first, trailing spaces
// trimmed; those the history no longer holds (more than 2000 lines ago, or
// cleared) are left out.
func (s *Screen) ScrolledLines(from, to uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.historySince(from, to)
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
func (s *Screen) Snapshot() (Lines, uint64) {
	lines, changes, _ := s.SnapshotScrolled()
	return lines, changes
}

// SnapshotScrolled returns Lines, Changes and Scrolled as of the same
// moment: the lines that scrolled off before these visible ones are those
// ScrolledLines returns up to scrolled.
func (s *Screen) SnapshotScrolled() (lines Lines, changes, scrolled uint64) {
	v := s.Look()
	return v.Lines, v.Changes, v.Scrolled
}

// AppCursor reports whether the program asked for application cursor
// keys (DECCKM), so arrows must be sent as ESC O A rather than ESC [ A.
func (s *Screen) AppCursor() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.appCursor
}

// BracketedPaste reports whether the program asked for bracketed paste
// (mode 2004), so pasted text should be sent between ESC [ 200 ~ and
// ESC [ 201 ~.
func (s *Screen) BracketedPaste() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.bracketedPaste
}

func (s *Screen) refresh() {
	if !s.dirty {
		return
	}
	s.dirty = false
	rows := s.term.rows
	changed := len(s.lines) != rows
	if changed {
		s.lines = make(Lines, rows)
	}
	for y, cells := range s.term.grid {
		s.row = appendText(s.row[:0], cells)
		if string(s.row) != s.lines[y] {
			s.lines[y] = string(s.row)
			changed = true
		}
	}
	if changed {
		s.changes++
	}
}
