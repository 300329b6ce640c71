package agents

import "testing"

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
			if got := string(plainText([]byte(tt.in))); got != tt.want {
				t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\nb\n", 0, "a\nb\n"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := string(lastLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
