package screen

import (
	"bytes"
	"slices"
	"strconv"
)

// maxOSC bounds what is kept of an OSC string: a window title longer than
// this is cut.
const maxOSC = 256

// Signals are what a program tells its terminal besides the text: its
// window title, bells, progress, and the semantic prompt marks shells
// emit (OSC 133, FinalTerm's). They are positive signals of a state that
// a screen's text only shows once the program stopped drawing. The
// counters only grow, so a reader compares two values to learn what came
// in between.
type Signals struct {
	// Title is the window title (OSC 0 or 2), and Titles counts the times
	// one was set; TitlesSince has the last few.
	Title  string
	Titles uint64
	// Bells counts BEL characters outside strings.
	Bells uint64
	// Progress is the state of the last OSC 9;4 progress report: 0 none,
	// 1 a value, 2 error, 3 indeterminate, 4 paused.
	Progress int
	// PromptStarts, PromptEnds and CommandEnds count the OSC 133 marks A
	// (a prompt begins), B (the prompt is drawn; input starts) and D (a
	// command finished).
	PromptStarts, PromptEnds, CommandEnds uint64
}

// osc takes in one OSC string, without its ESC ] and terminator.
func (s *Signals) osc(b []byte) {
	code, rest, _ := bytes.Cut(b, []byte{';'})
	switch string(code) {
	case "0", "2":
		s.Title = string(rest)
		s.Titles++
	case "133":
		mark, _, _ := bytes.Cut(rest, []byte{';'})
		switch string(mark) {
		case "A":
			s.PromptStarts++
		case "B":
			s.PromptEnds++
		case "D":
			s.CommandEnds++
		}
	case "9":
		// ConEmu's progress, which Windows Terminal and others took up:
		// OSC 9 ; 4 ; state [; value]. Other OSC 9s are notifications.
		sub, rest, _ := bytes.Cut(rest, []byte{';'})
		if string(sub) != "4" {
			return
		}
		state, _, _ := bytes.Cut(rest, []byte{';'})
		if n, err := strconv.Atoi(string(state)); err == nil && n >= 0 && n <= 4 {
			s.Progress = n
		}
	}
}

// Written counts the bytes written to the screen so far.
func (s *Screen) Written() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// keptTitles is how many of the last titles TitlesSince can return: a CLI
// shows a spinner in its title, and one turn may set dozens.
const keptTitles = 16

// TitlesSince returns the titles set after the count of titles (Signals
// .Titles) was since, oldest first: at most the last keptTitles of them.
func (s *Screen) TitlesSince(since uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.term.signals
	n := min(t.Titles-min(since, t.Titles), keptTitles)
	out := make([]string, 0, n)
	for i := t.Titles - n; i < t.Titles; i++ {
		out = append(out, s.term.titles[i%keptTitles])
	}
	return out
}

// Signals returns what the program told the terminal so far besides the
// text.
func (s *Screen) Signals() Signals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.signals
}

// View is the screen at one moment: what SnapshotScrolled returns, and
// the signals that came with it.
type View struct {
	Lines    Lines
	Changes  uint64
	Scrolled uint64
	Signals  Signals
	// Written counts the bytes written to the screen: output that moved
	// only the cursor shows here and nowhere else.
	Written uint64
}

// Look returns the screen's View.
func (s *Screen) Look() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return View{Lines: slices.Clone(s.lines), Changes: s.changes, Scrolled: s.term.scrolled, Signals: s.term.signals, Written: s.written}
}
