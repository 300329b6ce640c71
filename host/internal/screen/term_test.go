package screen

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/width"

	"github.com/parallax/parallax/host/internal/screen/tuitest"
)

// TestSequencesDrawLikeXterm draws small inputs on a 10x5 screen and checks every row.
func TestSequencesDrawLikeXterm(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string // the top rows; the rest must be blank
	}{
		// Printing and wrapping.
		{"autowrap at the last column", []string{"0123456789AB"}, []string{"0123456789", "AB"}},
		{"pending wrap then CR LF adds no blank row", []string{"0123456789\r\nX"}, []string{"0123456789", "X"}},
		{"pending wrap then CR stays on the row", []string{"0123456789\rX"}, []string{"X123456789"}},
		{"pending wrap then BS", []string{"0123456789\bX"}, []string{"01234567X9"}},
		{"autowrap off overwrites the last column", []string{"\x1b[?7l0123456789AB"}, []string{"012345678B"}},
		{"autowrap back on", []string{"\x1b[?7l\x1b[?7h0123456789AB"}, []string{"0123456789", "AB"}},
		{"wrap scrolls at the bottom", []string{"\x1b[5;1H0123456789AB"}, []string{"", "", "", "0123456789", "AB"}},

		// C0 controls.
		{"CR LF BS", []string{"abc\bX\r\nd\ne"}, []string{"abX", "d", " e"}},
		{"BS stops at the left edge", []string{"\b\bab"}, []string{"ab"}},
		{"HT to stops every 8", []string{"a\tb"}, []string{"a       b"}},
		{"HT stops at the last column", []string{"a\t\t\tb"}, []string{"a        b"}},
		{"BEL ignored", []string{"a\ab"}, []string{"ab"}},
		{"VT and FF are LF", []string{"a\vb\fc"}, []string{"a", " b", "  c"}},
		{"DEL ignored", []string{"a\x7fb"}, []string{"ab"}},

		// ESC sequences.
		{"ESC 7 and 8 save and restore the cursor", []string{"ab\x1b7\r\ncd\x1b8ef"}, []string{"abef", "cd"}},
		{"ESC 8 without ESC 7 goes home", []string{"ab\x1b8c"}, []string{"cb"}},
		{"ESC D is IND", []string{"a\x1bDb"}, []string{"a", " b"}},
		{"ESC E is NEL", []string{"a\x1bEb"}, []string{"a", "b"}},
		{"ESC M moves up", []string{"a\r\nb\x1bMc"}, []string{"ac", "b"}},
		{"ESC M at the top scrolls down", []string{"a\r\nb\x1b[H\x1bMc"}, []string{"c", "a", "b"}},
		{"ESC c resets", []string{"junk\x1b[2;3r\x1b[?7l\x1bcok"}, []string{"ok"}},
		{"ESC = and ESC > ignored", []string{"a\x1b=b\x1b>c"}, []string{"abc"}},
		{"ESC # 8 ignored", []string{"a\x1b#8b"}, []string{"ab"}},
		{"controls inside ESC", []string{"a\x1b\r\x1b7b"}, []string{"b"}},

		// Cursor movement.
		{"CUU CUD CUF CUB", []string{"\x1b[3;5H\x1b[2AA\x1b[3BB\x1b[5DC\x1b[6CD"}, []string{"    A", "", "", " C   B  D"}},
		{"moves stop at the edges", []string{"\x1b[99A\x1b[99Dx\x1b[99B\x1b[99Cy"}, []string{"x", "", "", "", "         y"}},
		{"CNL and CPL", []string{"ab\x1b[2Ec\x1b[Fd"}, []string{"ab", "d", "c"}},
		{"CHA and HPA", []string{"abcdef\x1b[3GX\x1b[5`Y"}, []string{"abXdYf"}},
		{"CUP and HVP", []string{"\x1b[2;3Hx\x1b[3;1fy"}, []string{"", "  x", "y"}},
		{"CUP defaults to home", []string{"\x1b[4;4H\x1b[Hx\x1b[3;Hy\x1b[;2Hz"}, []string{"xz", "", "y"}},
		{"VPA", []string{"ab\x1b[3dc"}, []string{"ab", "", "  c"}},
		{"CHT and CBT", []string{"a\x1b[Ib\x1b[Zc"}, []string{"a       c"}},
		{"CHT stops at the last column", []string{"\x1b[2Ix"}, []string{"         x"}},
		{"SCOSC and SCORC", []string{"ab\x1b[s\r\ncd\x1b[uef"}, []string{"abef", "cd"}},

		// Erasing.
		{"ED 0", []string{"aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[J"}, []string{"aaa", "b"}},
		{"ED 1", []string{"aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[1J"}, []string{"", "  b", "ccc"}},
		{"ED 2 keeps the cursor", []string{"aaa\r\nbbb\x1b[2Jx"}, []string{"", "   x"}},
		{"ED 3 keeps the screen", []string{"aaa\x1b[3J"}, []string{"aaa"}},
		{"EL 0", []string{"abcdef\x1b[3G\x1b[K"}, []string{"ab"}},
		{"EL 1", []string{"abcdef\x1b[3G\x1b[1K"}, []string{"   def"}},
		{"EL 2", []string{"abcdef\x1b[3G\x1b[2K"}, []string{""}},
		{"ECH", []string{"abcdef\x1b[2G\x1b[3X"}, []string{"a   ef"}},
		{"ECH past the edge", []string{"abcdef\x1b[2G\x1b[99X"}, []string{"a"}},

		// Editing.
		{"ICH", []string{"abcd\x1b[2G\x1b[2@"}, []string{"a  bcd"}},
		{"ICH pushes off the edge", []string{"0123456789\x1b[1G\x1b[3@"}, []string{"   0123456"}},
		{"DCH", []string{"abcdef\x1b[2G\x1b[2P"}, []string{"adef"}},
		{"IL", []string{"a\r\nb\r\nc\x1b[2;2H\x1b[Lx"}, []string{"a", "x", "b", "c"}},
		{"DL", []string{"a\r\nb\r\nc\x1b[H\x1b[M"}, []string{"b", "c"}},
		{"IL in a scroll region", []string{"1\r\n2\r\n3\r\n4\x1b[1;3r\x1b[L"}, []string{"", "1", "2", "4"}},
		{"DL in a scroll region", []string{"1\r\n2\r\n3\r\n4\x1b[1;3r\x1b[2M"}, []string{"3", "", "", "4"}},
		{"IL outside the scroll region", []string{"1\r\n2\r\n3\r\n4\x1b[1;2r\x1b[4;1H\x1b[L"}, []string{"1", "2", "3", "4"}},
		{"SU", []string{"1\r\n2\r\n3\x1b[S"}, []string{"2", "3"}},
		{"SD", []string{"1\r\n2\r\n3\x1b[2T"}, []string{"", "", "1", "2", "3"}},
		{"REP", []string{"ab\x1b[3b"}, []string{"abbbb"}},
		{"REP of a wide rune", []string{"日\x1b[2b"}, []string{"日日日"}},

		// Scroll regions.
		{"LF at the region bottom scrolls the region", []string{"a\r\nb\r\nc\r\nd\x1b[2;3r\x1b[3;1H\nX"}, []string{"a", "c", "X", "d"}},
		{"DECSTBM homes the cursor", []string{"\x1b[3;3H\x1b[2;4rX"}, []string{"X"}},
		{"DECSTBM with top past bottom ignored", []string{"a\x1b[4;2r\x1b[5;1H\nb"}, []string{"", "", "", "", "b"}},
		{"RI at the region top scrolls the region", []string{"a\r\nb\r\nc\r\nd\x1b[2;3r\x1b[2;1H\x1bMX"}, []string{"a", "X", "b", "d"}},
		{"CUU stops at the region top", []string{"\x1b[2;4r\x1b[3;1H\x1b[9Ax"}, []string{"", "x"}},
		{"below the region the cursor goes to the bottom without scrolling", []string{"a\x1b[1;2r\x1b[4;1Hb\n\n\nc"}, []string{"a", "", "", "b", " c"}},
		{"origin mode", []string{"\x1b[2;4r\x1b[?6h\x1b[Hx\x1b[9;2Hy"}, []string{"", "x", "", " y"}},

		// Alternate screen.
		{"1049 saves the cursor and restores the main screen", []string{"main", "\x1b[?1049h\x1b[Halt", "\x1b[?1049lX"}, []string{"mainX"}},
		{"1049 clears the alternate screen", []string{"\x1b[?1049hjunk\x1b[?1049l\x1b[?1049h"}, []string{""}},
		{"47 keeps the alternate screen", []string{"\x1b[?47hjunk\x1b[?47l\x1b[?47h"}, []string{"junk"}},
		{"1047 clears the alternate screen on leaving", []string{"\x1b[?1047hjunk\x1b[?1047l\x1b[?1047h"}, []string{""}},
		{"47 back shows the main screen", []string{"main\x1b[?47h\x1b[2Jalt\x1b[?47l"}, []string{"main"}},
		{"modes in one CSI", []string{"main\x1b[?1049;2004h\x1b[2Jalt"}, []string{"    alt"}},
		{"ESC c leaves the alternate screen", []string{"\x1b[?1049halt\x1bcmain\x1b[?47h\x1b[?47l"}, []string{"main"}},

		// Ignored CSIs.
		{"private prefixes ignored", []string{"a\x1b[=5ub\x1b[>cc\x1b[?6nd\x1b[>0qe"}, []string{"abcde"}},
		{"unknown CSIs skipped", []string{"a\x1b[5~b\x1b[?2026$pc\x1b[!pd\x1b[1;2'ze"}, []string{"abcde"}},
		{"ANSI modes ignored", []string{"a\x1b[4hb\x1b[4lc"}, []string{"abc"}},
		{"many parameters", []string{"a\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17mb"}, []string{"ab"}},
		{"big parameters clamp to the screen", []string{"\x1b[9999;9999Hx"}, []string{"", "", "", "", "         x"}},
		{"CAN cancels a CSI", []string{"a\x1b[2\x18Jb"}, []string{"aJb"}},
		{"ESC inside a CSI starts over", []string{"a\x1b[2\x1b[Cb"}, []string{"a b"}},
		{"a non-ASCII byte ends a CSI", []string{"a\x1b[2é"}, []string{"aé"}},

		// Strings.
		{"APC, PM and SOS dropped", []string{"\x1b_Gi=1\x1b\\a\x1b^pm\x1b\\b\x1bXsos\x1b\\c"}, []string{"abc"}},
		{"screen title dropped", []string{"\x1bktitle\x1b\\ok"}, []string{"ok"}},
		{"ESC ends a string and starts a sequence", []string{"\x1b]0;t\x1b[2Gok"}, []string{" ok"}},
		{"CAN ends a string", []string{"\x1b]0;t\x18ok"}, []string{"ok"}},
		{"controls in a string do nothing", []string{"\x1b]0;a\r\nb\x07ok"}, []string{"ok"}},

		// Runes.
		{"wide rune wraps from the last column", []string{"012345678日"}, []string{"012345678", "日"}},
		{"wide rune in the last column without autowrap", []string{"\x1b[?7l012345678日"}, []string{"01234567日"}},
		{"overwriting the tail blanks the head", []string{"日本\x1b[2GX"}, []string{" X本"}},
		{"overwriting the head blanks the tail", []string{"日本\x1b[1GX"}, []string{"X 本"}},
		{"erasing half a wide rune erases it", []string{"a日b\x1b[2G\x1b[1K"}, []string{"   b"}},
		{"ICH pushes a wide rune off whole", []string{"ab日\x1b[1G\x1b[7@"}, []string{"       ab"}},
		{"DCH of half a wide rune", []string{"a日b\x1b[2G\x1b[P"}, []string{"a b"}},
		{"wide rune on a split pair", []string{"日本\x1b[2G中"}, []string{" 中"}},
		{"4-byte rune split across writes", []string{"\xf0\x9f", "\x9a", "\x80"}, []string{"🚀"}},
		{"broken rune", []string{"a\xe2\x94b\xffc"}, []string{"a\ufffdb\ufffdc"}},
		{"broken rune before an escape", []string{"\xe2\x94", "\x1b[3Gx"}, []string{"\ufffd x"}},
		{"surrogates and overlongs", []string{"\xed\xa0\x80|\xc0\xaf"}, []string{"\ufffd\ufffd\ufffd|\ufffd\ufffd"}},
		{"encoded C1 controls dropped", []string{"a\u0085\u009db"}, []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(10, 5)
			for _, w := range tt.writes {
				s.Write([]byte(w))
			}
			checkLines(t, s.Lines(), tt.want, 5)
		})
	}
}

func checkLines(t *testing.T, got, want []string, rows int) {
	t.Helper()
	if len(got) != rows {
		t.Fatalf("%d rows, want %d", len(got), rows)
	}
	want = append(slices.Clone(want), make([]string, rows-len(want))...)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %q, want %q\nscreen:\n%s", i, got[i], want[i], strings.Join(got, "\n"))
		}
	}
}

func TestModesFollowSetResetAndRIS(t *testing.T) {
	s := New(10, 3)
	if s.AppCursor() || s.BracketedPaste() {
		t.Fatal("modes set on a fresh screen")
	}
	s.Write([]byte("\x1b[?1;2004h"))
	if !s.AppCursor() || !s.BracketedPaste() {
		t.Fatal("modes not set by DECSET")
	}
	s.Write([]byte("\x1b[?1l\x1b[?2004l"))
	if s.AppCursor() || s.BracketedPaste() {
		t.Fatal("modes not reset by DECRST")
	}
	s.Write([]byte("\x1b[?1h\x1bc"))
	if s.AppCursor() {
		t.Fatal("AppCursor after RIS")
	}
}

func TestRepliesAnswerTerminalQueries(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"DA1", []string{"\x1b[c"}, "\x1b[?62;22c"},
		{"DA1 with 0", []string{"\x1b[0c"}, "\x1b[?62;22c"},
		{"DA2 not answered", []string{"\x1b[>c"}, ""},
		{"DSR status", []string{"\x1b[5n"}, "\x1b[0n"},
		{"CPR at home", []string{"\x1b[6n"}, "\x1b[1;1R"},
		{"CPR", []string{"\x1b[3;7H\x1b[6n"}, "\x1b[3;7R"},
		{"CPR in the pending wrap", []string{"0123456789\x1b[6n"}, "\x1b[1;10R"},
		{"CPR in origin mode", []string{"\x1b[2;4r\x1b[?6h\x1b[2;3H\x1b[6n"}, "\x1b[2;3R"},
		{"OSC 11 with BEL", []string{"\x1b]11;?\x07"}, "\x1b]11;rgb:0000/0000/0000\x07"},
		{"OSC 11 with ST", []string{"\x1b]11;?\x1b\\"}, "\x1b]11;rgb:0000/0000/0000\x1b\\"},
		{"OSC 10", []string{"\x1b]10;?\x1b\\"}, "\x1b]10;rgb:ffff/ffff/ffff\x1b\\"},
		{"OSC split across writes", []string{"\x1b]1", "1;?\x1b", "\\"}, "\x1b]11;rgb:0000/0000/0000\x1b\\"},
		{"OSC 11 that sets", []string{"\x1b]11;rgb:1/2/3\x07"}, ""},
		{"OSC 11 query cut short", []string{"\x1b]11;?\x18"}, ""},
		{"several queries", []string{"\x1b[c\x1b]11;?\x07x\x1b[6n"}, "\x1b[?62;22c\x1b]11;rgb:0000/0000/0000\x07\x1b[1;2R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(10, 5)
			var got bytes.Buffer
			s.SetResponder(&got)
			for _, w := range tt.writes {
				s.Write([]byte(w))
			}
			if got.String() != tt.want {
				t.Errorf("replies %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestNoResponder(t *testing.T) {
	s := New(10, 5)
	s.Write([]byte("\x1b[c\x1b[6nok"))
	var got bytes.Buffer
	s.SetResponder(&got)
	s.SetResponder(nil)
	s.Write([]byte("\x1b[c"))
	if got.Len() != 0 || s.Lines()[0] != "ok" {
		t.Errorf("replies %q, screen %q", got.String(), s.Lines())
	}
}

// responderFunc lets a test see what a responder sees.
type responderFunc func(p []byte)

func (f responderFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

func TestResponderRunsUnlocked(t *testing.T) {
	s := New(10, 5)
	var seen []string
	s.SetResponder(responderFunc(func(p []byte) {
		// A responder that uses the screen would deadlock if Write held
		// its lock.
		seen = append(seen, s.Lines()[0])
	}))
	s.Write([]byte("ok\x1b[6n"))
	if !slices.Equal(seen, []string{"ok"}) {
		t.Errorf("responder saw %q", seen)
	}
}

func TestHistoryKeepsScrolledOffLines(t *testing.T) {
	lines := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%d  \r\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines scrolled off, oldest first, trimmed", []string{lines(5)}, []string{"0", "1", "2"}},
		{"wrapped lines", []string{"0123456789abcdefghij0123456789\r\n\r\n"}, []string{"0123456789", "abcdefghij"}},
		{"SU", []string{"a\r\nb\x1b[2S"}, []string{"a", "b"}},
		{"not from a scroll region", []string{"\x1b[1;2r" + lines(5)}, nil},
		{"not from the alternate screen", []string{"\x1b[?1049h" + lines(5)}, nil},
		{"not from DL", []string{"a\x1b[M"}, nil},
		{"ED 3 clears it", []string{lines(5) + "\x1b[3J"}, nil},
		{"RIS keeps it", []string{lines(5) + "\x1bc"}, []string{"0", "1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(10, 3)
			for _, w := range tt.writes {
				s.Write([]byte(w))
			}
			if got := s.History(); !slices.Equal(got, tt.want) {
				t.Errorf("History = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHistoryBound(t *testing.T) {
	s := New(10, 3)
	const n = maxHistory + 500
	for i := range n {
		s.Write(fmt.Appendf(nil, "%d\r\n", i))
	}
	h := s.History()
	if len(h) != maxHistory {
		t.Fatalf("%d lines, want %d", len(h), maxHistory)
	}
	// The screen holds the last 2 lines and the empty row below them.
	for i, line := range h {
		if want := fmt.Sprint(n - 2 - maxHistory + i); line != want {
			t.Fatalf("line %d = %q, want %q", i, line, want)
		}
	}
	h[0] = "changed"
	if s.History()[0] == "changed" {
		t.Error("History is not a copy")
	}
}

func TestScrolledLines(t *testing.T) {
	s := New(10, 3)
	if n := s.Scrolled(); n != 0 {
		t.Fatalf("Scrolled on a new screen = %d", n)
	}
	s.Write([]byte("a\r\nb\r\nc\r\nd\r\n"))
	lines, _, mark := s.SnapshotScrolled()
	if mark != 2 || !slices.Equal(s.ScrolledLines(0, mark), []string{"a", "b"}) {
		t.Fatalf("Scrolled = %d, lines %q; want 2, [a b]", mark, s.ScrolledLines(0, mark))
	}
	checkLines(t, lines, []string{"c", "d", ""}, 3)
	for i := range 5 {
		s.Write(fmt.Appendf(nil, "%d\r\n", i))
	}
	end := s.Scrolled()
	if got, want := s.ScrolledLines(mark, end), []string{"c", "d", "0", "1", "2"}; !slices.Equal(got, want) {
		t.Errorf("ScrolledLines(%d, %d) = %q, want %q", mark, end, got, want)
	}
	if got := s.ScrolledLines(mark, mark+2); !slices.Equal(got, []string{"c", "d"}) {
		t.Errorf("ScrolledLines up to a later mark = %q", got)
	}
	if got := s.ScrolledLines(end, end+5); got != nil {
		t.Errorf("lines not scrolled yet: %q", got)
	}

	// Clearing the history loses the lines, not the count.
	s.Write([]byte("\x1b[3J"))
	if n := s.Scrolled(); n != end {
		t.Errorf("Scrolled after ED 3 = %d, want %d", n, end)
	}
	s.Write([]byte("x\r\ny\r\n"))
	if got := s.ScrolledLines(mark, s.Scrolled()); !slices.Equal(got, []string{"3", "4"}) {
		t.Errorf("ScrolledLines across ED 3 = %q, want only what scrolled after it", got)
	}
}

func TestScrolledLinesPastTheBound(t *testing.T) {
	s := New(10, 3)
	const n = 2*maxHistory + 300
	for i := range n {
		s.Write(fmt.Appendf(nil, "%d\r\n", i))
	}
	// Lines 0 to n-3 scrolled off; the ring holds the last maxHistory.
	if got := s.Scrolled(); got != n-2 {
		t.Fatalf("Scrolled = %d, want %d", got, n-2)
	}
	if got := s.ScrolledLines(0, 10); got != nil {
		t.Errorf("lines the ring dropped: %q", got)
	}
	got := s.ScrolledLines(n-2-maxHistory-5, n-2-maxHistory+3)
	if want := []string{fmt.Sprint(n - 2 - maxHistory), fmt.Sprint(n - 1 - maxHistory), fmt.Sprint(n - maxHistory)}; !slices.Equal(got, want) {
		t.Errorf("ScrolledLines across the ring's start = %q, want %q", got, want)
	}
	if got := s.ScrolledLines(n-4, n-2); !slices.Equal(got, []string{fmt.Sprint(n - 4), fmt.Sprint(n - 3)}) {
		t.Errorf("the newest lines = %q", got)
	}
}

func TestResizeKeepsTheCursorRow(t *testing.T) {
	s := New(10, 5)
	s.Write([]byte("1\r\n2\r\n3\r\n4\r\n5"))
	s.Resize(10, 3)
	checkLines(t, s.Lines(), []string{"3", "4", "5"}, 3)
	if h := s.History(); !slices.Equal(h, []string{"1", "2"}) {
		t.Errorf("History = %q", h)
	}
	s.Write([]byte("x"))
	checkLines(t, s.Lines(), []string{"3", "4", "5x"}, 3)
}

func TestResizeSplitsWideRunes(t *testing.T) {
	s := New(10, 2)
	s.Write([]byte("abcd日"))
	s.Resize(5, 2)
	checkLines(t, s.Lines(), []string{"abcd"}, 2)
}

func TestDECGraphics(t *testing.T) {
	if len(decGraphics) != 0x7f-decGraphicsFirst {
		t.Fatalf("decGraphics has %d runes", len(decGraphics))
	}
	for _, r := range decGraphics {
		if runeWidth(r) != 1 {
			t.Errorf("%q is not narrow", r)
		}
	}
}

// TestRuneWidthShortcuts checks the ranges runeWidth decides without the
// Unicode tables against the tables.
func TestRuneWidthShortcuts(t *testing.T) {
	for r := rune(0x2100); r <= 0x2cee; r++ {
		if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
			t.Errorf("%U is zero-width", r)
		}
		kind := width.LookupRune(r).Kind()
		wide := kind == width.EastAsianWide || kind == width.EastAsianFullwidth
		if wide != (runeWidth(r) == 2) {
			t.Errorf("%U: runeWidth %d, East Asian width %v", r, runeWidth(r), kind)
		}
	}
}

// TestWriteDoesNotAllocate keeps Write cheap at PTY speed.
func TestWriteDoesNotAllocate(t *testing.T) {
	data := tuitest.Output(64 << 10)
	s := New(120, 40)
	if n := testing.AllocsPerRun(10, func() { s.Write(data) }); n != 0 {
		t.Errorf("Write made %v allocations", n)
	}
}

// displayWidth is how many cells line takes.
func displayWidth(line string) int {
	w := 0
	for _, r := range line {
		w += runeWidth(r)
	}
	return w
}

func FuzzWrite(f *testing.F) {
	f.Add([]byte("\x1b[?1049h\x1b[1;1H╭─❯\x1b[38;5;1m●\x1b[0m日本\x1b]0;t\x07"), []byte{12, 4})
	f.Add([]byte("\x1b[-1@\x1b[5;5r\x1b[99L\x1b[?6h\x1bM\x1b[2J"), []byte{7, 3})
	f.Add([]byte("日本語のテキスト🚀\x1b[3G\x1b[2@\x1b[?7l\x1b[99C中\x1b[1P\x1b[6n\x1b]11;?\x07"), []byte{5, 2, 1, 1, 3, 9})
	f.Add([]byte("\x1b[2K\x1b[1A\x1b[2K\x1b[G\x1b[38;5;30m●\x1b[39m line\r\n\x1b7\x1b[5;1H\x1b[2K⠋ Thinking…\x1b8"), []byte{40, 10, 120, 40})
	f.Add([]byte("a long line of ascii that wraps\x1b[?7lno autowrap here either\x1b[?7h\x1b(0lqqk\x1b(B日x\x1b[1;11H日本wide at the edge"), []byte{})
	f.Fuzz(func(t *testing.T, p, sizes []byte) {
		// Short runs keep the fuzzer's minimizing, which tries removing
		// every range of bytes, from stalling on big inputs.
		if len(p) > 1<<10 || len(sizes) > 16 {
			return
		}
		// p is written in pieces, with a resize to the next pair of sizes
		// between them.
		s := New(12, 4)
		var replies bytes.Buffer
		s.SetResponder(&replies)
		pieces := len(sizes)/2 + 1
		rows := 4
		for k := range pieces {
			s.Write(p[k*len(p)/pieces : (k+1)*len(p)/pieces])
			if k < pieces-1 {
				cols := int(sizes[2*k]%40) + 1
				rows = int(sizes[2*k+1]%12) + 1
				s.Resize(cols, rows)
			}
			cols, _ := s.Size()
			got := s.Lines()
			if len(got) != rows {
				t.Fatalf("%d rows, want %d", len(got), rows)
			}
			for i, line := range got {
				if w := displayWidth(line); w > cols {
					t.Fatalf("row %d is %d cells wide, more than %d: %q", i, w, cols, line)
				}
			}
		}

		// Where a write ends changes nothing.
		whole, bytewise := New(12, 4), New(12, 4)
		var wholeReplies, bytewiseReplies bytes.Buffer
		whole.SetResponder(&wholeReplies)
		bytewise.SetResponder(&bytewiseReplies)
		whole.Write(p)
		for i := range p {
			bytewise.Write(p[i : i+1])
		}
		if a, b := whole.Lines(), bytewise.Lines(); !slices.Equal(a, b) {
			t.Fatalf("written whole:\n%s\nbyte by byte:\n%s", a.Text(), b.Text())
		}
		if !bytes.Equal(wholeReplies.Bytes(), bytewiseReplies.Bytes()) {
			t.Fatalf("replies %q written whole, %q byte by byte", wholeReplies.Bytes(), bytewiseReplies.Bytes())
		}
		if a, b := whole.History(), bytewise.History(); !slices.Equal(a, b) {
			t.Fatalf("history %q written whole, %q byte by byte", a, b)
		}
	})
}
