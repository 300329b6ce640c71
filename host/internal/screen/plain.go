package screen

import (
	"bytes"
	"unicode/utf8"
)

// PlainText turns terminal output into lines of text: escape sequences
// and control characters go; a carriage return starts its line over, as
// on a terminal, so progress bars leave their last state; moving the
// cursor to another row ends the line, so a TUI's rows don't run together.
// It is a log reader's view, not a terminal emulator's.
func PlainText(b []byte) []byte {
	out := make([]byte, 0, len(b))
	lineStart := 0
	newline := func() {
		if len(out) > lineStart {
			out = append(out, '\n')
			lineStart = len(out)
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\n':
			out = append(out, '\n')
			lineStart = len(out)
		case c == '\r':
			j := i + 1
			for j < len(b) && b[j] == '\r' {
				j++
			}
			if j < len(b) && b[j] == '\n' {
				continue // CRLF, or CR CR LF from a PTY adding its own CR
			}
			out = out[:lineStart]
		case c == '\t':
			out = append(out, c)
		case c == '\b':
			if len(out) > lineStart {
				out = out[:len(out)-1]
			}
		case c == 0x1b:
			start := i
			var final byte
			i, final = skipEscape(b, i)
			switch final {
			case 'H', 'f', 'd', 'E', 'F', 'A', 'B':
				newline()
			case 'C': // cursor forward n: the gap is blank
				out = append(out, bytes.Repeat([]byte{' '}, min(firstParam(b[start:i]), 200))...)
			case 'G', '`': // cursor to column n: TUIs space words this way
				col := utf8.RuneCount(out[lineStart:])
				if pad := min(firstParam(b[start:i]), 500) - 1 - col; pad > 0 {
					out = append(out, bytes.Repeat([]byte{' '}, pad)...)
				} else if col > 0 && out[len(out)-1] != ' ' {
					out = append(out, ' ')
				}
			}
		case c < 0x20 || c == 0x7f:
			// Other control characters draw nothing.
		default:
			out = append(out, c)
		}
	}
	return out
}

// firstParam reads the first parameter of a CSI ("ESC [ 12 G" is 12); a
// missing one is 1.
func firstParam(seq []byte) int {
	n := 0
	for _, c := range seq[min(2, len(seq)):] {
		if c < '0' || c > '9' || n > 1e6 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return max(n, 1)
}

// skipEscape skips the escape sequence that starts at b[i] and returns the
// index of its last byte, and for a CSI its final byte.
func skipEscape(b []byte, i int) (int, byte) {
	if i+1 >= len(b) {
		return i, 0
	}
	switch b[i+1] {
	case '[': // CSI: parameters and intermediates, then a final byte
		j := i + 2
		for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
			j++
		}
		if j >= len(b) {
			return len(b) - 1, 0
		}
		return j, b[j]
	case ']', 'P', '_', '^', 'X': // strings, ended by BEL or ST
		for j := i + 2; j < len(b); j++ {
			if b[j] == 0x07 {
				return j, 0
			}
			if b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\' {
				return j + 1, 0
			}
		}
		return len(b) - 1, 0
	case '(', ')', '*', '+', '#', '%': // one more byte names a charset
		return min(i+2, len(b)-1), 0
	}
	return i + 1, 0
}
