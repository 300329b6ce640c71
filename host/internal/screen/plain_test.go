package screen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
		{"a column left of the cursor overwrites, as on a terminal", "abc\x1b[2Gd", "adc"},
		{"a carriage return only moves the cursor", "hello\rJ", "Jello"},
		{"rows ended by CR and cursor-down, as Claude Code 2.1.332 ends them", "a\r\x1b[1Bb", "a\nb"},
		{"a row ended by cursor-down keeps its column", "ab\x1b[Bc", "ab\n  c"},
		{"erase to the end of the row", "100%\r50%\x1b[K\n", "50%\n"},
		{"erase the whole row", "abc\x1b[2Kd\n", "   d\n"},
		{"cursor back", "abc\x1b[2Dx", "axc"},
		{"cursor to a row and column", "top\x1b[2;3Hx", "top\n  x"},
		{"wide runes take two columns", "日本\r語", "語本"},
		{"moves between blank rows add no empty lines", "\x1b[1;1H\x1b[2;1H\x1b[3;1Hx", "x"},
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
	for _, seed := range []string{"a\r\nb", "a\r\x1b[1Bb", "日\x1b[1D本\x1b[K", "\x1b[5;9999H\x1b[0K", "\x1b[2GNote:\x1b[8GClaude", "\x1b]0;t\x07x", "\x1b[99999999C", "x\x1b["} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out := PlainText(b); bytes.IndexByte(out, 0x1b) >= 0 {
			t.Fatalf("PlainText(%q) = %q keeps an escape byte", b, out)
		}
	})
}

// TestPlainTextKeepsTheRepliesOfTheRecordedCLIs: the reply a CLI drew on
// its screen is a line of its log.
func TestPlainTextKeepsTheRepliesOfTheRecordedCLIs(t *testing.T) {
	tests := []struct{ recording, reply string }{
		{"claude/reply", "● Hello from the fake model."},
		// Rows ended by CR and cursor-down, never CRLF.
		{"claude/reply-2.1.332", "● Hello from the fake model."},
		{"codex/reply", "• Hello from the fake model."},
	}
	for _, tt := range tests {
		t.Run(tt.recording, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "adapter", "testdata", tt.recording+".raw"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(PlainText(raw)), "\n")
			for _, l := range lines {
				if strings.TrimSpace(l) == tt.reply {
					return
				}
			}
			t.Errorf("no line of the log is the reply %q; the log's last lines:\n%s", tt.reply, strings.Join(lines[max(len(lines)-15, 0):], "\n"))
		})
	}
}
