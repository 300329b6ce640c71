// Package tuitest makes terminal output like an agent TUI's, for the
// benchmarks of the screen model and the sessions built on it.
package tuitest

import (
	"fmt"
	"strings"
)

// Output is at least size bytes of what an Ink or ratatui TUI writes while
// a turn streams: the previous frame erased line by line, the transcript
// and the prompt box redrawn in colour, a spinner updated in place with
// cursor moves.
func Output(size int) []byte {
	var b strings.Builder
	for frame := 0; b.Len() < size; frame++ {
		for range 12 {
			b.WriteString("\x1b[2K\x1b[1A")
		}
		b.WriteString("\x1b[2K\x1b[G")
		for i := range 6 {
			fmt.Fprintf(&b, "\x1b[38;5;%dm●\x1b[39m \x1b[1mline %d of frame %d\x1b[22m: the quick brown fox jumps over the lazy dog\r\n", 30+i, i, frame)
		}
		b.WriteString("\x1b[2m" + strings.Repeat("─", 100) + "\x1b[22m\r\n")
		b.WriteString("\x1b[1m❯\x1b[22m \x1b[7m \x1b[27m\r\n")
		b.WriteString("\x1b[2m" + strings.Repeat("─", 100) + "\x1b[22m\r\n")
		b.WriteString("  \x1b[2m? for shortcuts\x1b[22m\r\n")
		for k, r := range []rune("⠋⠙⠹⠸") {
			fmt.Fprintf(&b, "\x1b7\x1b[5;1H\x1b[2K\x1b[38;2;215;119;87m%c\x1b[39m Thinking… \x1b[2m(%ds · esc to interrupt)\x1b[22m\x1b8", r, k)
		}
	}
	return []byte(b.String())
}
