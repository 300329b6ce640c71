package screen

import (
	"io"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/screen/tuitest"
)

func TestLinesRenderWhatTUIsSend(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string // the top rows; the rest must be blank
	}{
		{"plain text", []string{"hello\r\nworld  "}, []string{"hello", "world"}},
		{"colours dropped", []string{"\x1b[1;38;5;208mhot\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[m"}, []string{"hot rgb"}},
		{"colon sub-parameters", []string{"\x1b[38:2::255:0:0mX\x1b[4:3mY"}, []string{"XY"}},
		{"cursor moves and erase", []string{"aaaa\r\nbbbb\x1b[1;2Hx\x1b[2;3H\x1b[K"}, []string{"axaa", "bb"}},
		{"erase screen", []string{"junk\x1b[2J\x1b[3J\x1b[Hclean"}, []string{"clean"}},
		{"ink redraw", []string{"one\r\ntwo", "\x1b[2K\x1b[1A\x1b[2K\x1b[Gthree\r\nfour"}, []string{"three", "four"}},
		{"alternate screen", []string{"main", "\x1b[?1049h\x1b[Halt"}, []string{"alt"}},
		{"alternate screen left", []string{"main", "\x1b[?1049h\x1b[Halt", "\x1b[?1049l"}, []string{"main"}},
		{"box drawing", []string{"╭───╮\r\n│ ❯ │\r\n╰───╯ ● ✻"}, []string{"╭───╮", "│ ❯ │", "╰───╯ ● ✻"}},
		{"rune split across writes", []string{"\xe2", "\x94", "\x80\xe2\x9d", "\xaf"}, []string{"─❯"}},
		{"wide runes take two cells", []string{"日本x\x1b[5GZ"}, []string{"日本Z"}},
		{"emoji is wide", []string{"🚀ab\x1b[3GX"}, []string{"🚀Xb"}},
		{"zero-width dropped", []string{"✔\ufe0f ok e\u0301"}, []string{"✔ ok e"}},
		{"noncharacter kept visible", []string{"a\uffffb"}, []string{"a\ufffdb"}},
		{"C1 controls dropped", []string{"a\u009bb"}, []string{"ab"}},
		{"bracketed paste and sync modes", []string{"\x1b[?2004h\x1b[?2026hok\x1b[?2026l\x1b[?2004l"}, []string{"ok"}},
		{"cursor and mouse modes", []string{"\x1b[?25l\x1b[?1h\x1b=\x1b[?1000h\x1b[?1006hok\x1b[?25h"}, []string{"ok"}},
		{"OSC title with BEL", []string{"\x1b]0;my title\x07ok"}, []string{"ok"}},
		{"OSC split across writes", []string{"\x1b]0;ti", "tle\x1b", "\\ok"}, []string{"ok"}},
		{"OSC 8 hyperlink", []string{"\x1b]8;;http://example.com\x1b\\link\x1b]8;;\x1b\\ here"}, []string{"link here"}},
		{"DCS dropped", []string{"\x1bP+q544e\x1b\\ok"}, []string{"ok"}},
		{"kitty keyboard push does not restore cursor", []string{"\x1b7ab\x1b[>1uc\x1b[<u\x1b[?ud"}, []string{"abcd"}},
		{"xterm modifyOtherKeys", []string{"a\x1b[>4;1mb"}, []string{"ab"}},
		{"charset designations", []string{"a\x1b)0b\x1b%Gc\x1b(Bd"}, []string{"abcd"}},
		{"DEC line drawing", []string{"\x1b(0qqx\x1b(Bq"}, []string{"──│q"}},
		{"cursor style", []string{"a\x1b[2 qb"}, []string{"ab"}},
		{"controls inside a CSI", []string{"a\x1b[1\r\nCb"}, []string{"a", " b"}},
		{"scroll region", []string{"\x1b[1;2r1\r\n2\r\n3\x1b[r"}, []string{"2", "3"}},
		{"insert and delete chars", []string{"abcd\x1b[1G\x1b[2@XY\x1b[5G\x1b[1P"}, []string{"XYabd"}},
		{"negative and huge parameters", []string{"ab\x1b[-1@\x1b[-5P\x1b[999999999I\x1b[99999Zc"}, []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(20, 5)
			for _, w := range tt.writes {
				if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := s.Lines()
			if len(got) != 5 {
				t.Fatalf("%d rows, want 5", len(got))
			}
			want := append(tt.want, make([]string, 5-len(tt.want))...)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("row %d = %q, want %q\nscreen:\n%s", i, got[i], want[i], got.Text())
				}
			}
		})
	}
}

func TestChangesCountsOnlyVisibleEdits(t *testing.T) {
	s := New(20, 5)
	c0 := s.Changes()
	s.Write([]byte("\x1b[?25l\x1b[3;3H\x1b[31m"))
	if c := s.Changes(); c != c0 {
		t.Errorf("cursor moves and colours changed the count: %d -> %d", c0, c)
	}
	s.Write([]byte("hi"))
	c1 := s.Changes()
	if c1 == c0 {
		t.Fatal("text did not change the count")
	}
	s.Write([]byte("\x1b[2J\x1b[3;3Hhi"))
	if c := s.Changes(); c != c1 {
		t.Errorf("an identical redraw changed the count: %d -> %d", c1, c)
	}
	lines, c := s.Snapshot()
	if c != c1 || lines[2] != "  hi" {
		t.Errorf("Snapshot = %q, %d", lines, c)
	}
	s.Resize(30, 6)
	if c := s.Changes(); c == c1 {
		t.Error("a resize that changes the rows did not change the count")
	}
}

func TestResizeShrinksAndGrowsTheGrid(t *testing.T) {
	s := New(10, 3)
	s.Write([]byte("0123456789abc"))
	s.Resize(5, 2)
	if cols, rows := s.Size(); cols != 5 || rows != 2 {
		t.Fatalf("Size = %d, %d", cols, rows)
	}
	got := s.Lines()
	if len(got) != 2 || len(got[0]) > 5 {
		t.Fatalf("Lines after shrinking = %q", got)
	}
	s.Resize(40, 10)
	s.Write([]byte("\x1b[2J\x1b[10;35Hend"))
	if got := s.Lines(); len(got) != 10 || got[9] != strings.Repeat(" ", 34)+"end" {
		t.Fatalf("Lines after growing = %q", got)
	}
	s.Resize(0, 0) // ignored
	if cols, rows := s.Size(); cols != 40 || rows != 10 {
		t.Fatalf("Size after Resize(0, 0) = %d, %d", cols, rows)
	}
}

func TestAppCursor(t *testing.T) {
	s := New(10, 3)
	if s.AppCursor() {
		t.Fatal("AppCursor on a fresh screen")
	}
	s.Write([]byte("\x1b[?1h"))
	if !s.AppCursor() {
		t.Fatal("AppCursor after DECCKM set")
	}
}

func BenchmarkWrite(b *testing.B) {
	data := tuitest.Output(4 << 20)
	const chunk = 4096
	run := func(b *testing.B, w io.Writer) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for i := 0; i < len(data); i += chunk {
				w.Write(data[i:min(i+chunk, len(data))])
			}
		}
	}
	b.Run("discard", func(b *testing.B) { run(b, io.Discard) })
	b.Run("screen", func(b *testing.B) { run(b, New(120, 40)) })
}
