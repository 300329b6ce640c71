package screen

import (
	"bytes"
	"testing"
)

func TestPlainText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "a\nb\n", "a\nb\n"},
		{"colours", "\x1b[1;31mred\x1b[0m\n", "red\n"},
		{"CRLF and the PTY's extra CR", "a\r\nb\r\r\n", "a\nb\n"},
		{"a carriage return starts the line over", "10%\r100%\n", "100%\n"},
		{"backspace", "ab\bc\n", "ac\n"},
		{"OSC title with BEL and with ST", "\x1b]0;title\x07x\x1b]2;t\x1b\\y\n", "xy\n"},
		{"cursor to another row ends the line", "top\x1b[5;1Hbottom", "top\nbottom"},
		{"cursor forward is blank", "a\x1b[3Cb\x1b[Cc", "a   b c"},
		{"words placed by column, as Claude draws them", "\x1b[2GNote:\x1b[8GClaude\x1b[15GCode", " Note: Claude Code"},
		{"a column left of the cursor still parts words", "abc\x1b[2Gd", "abc d"},
		{"charset designation", "\x1b(Bx", "x"},
		{"cut off escape", "x\x1b[", "x"},
		{"other controls", "a\x00\x07b", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(PlainText([]byte(tt.in))); got != tt.want {
				t.Errorf("PlainText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzPlainText: whatever an agent prints, the log reader neither panics
// nor lets an escape byte through.
func FuzzPlainText(f *testing.F) {
	for _, seed := range []string{"a\r\nb", "\x1b[2GNote:\x1b[8GClaude", "\x1b]0;t\x07x", "\x1b[99999999C", "x\x1b["} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out := PlainText(b); bytes.IndexByte(out, 0x1b) >= 0 {
			t.Fatalf("PlainText(%q) = %q keeps an escape byte", b, out)
		}
	})
}
