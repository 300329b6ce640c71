package agents

import (
	"bytes"
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/parallax/parallax/sdk/runtime"
)

// Logs returns the last tail lines (all when tail <= 0) of agent id's
// recent output: as plain text, or as the raw bytes with raw.
func (m *Manager) Logs(id string, tail int, raw bool) ([]byte, error) {
	a, err := m.find(id)
	if err != nil {
		return nil, err
	}
	out := replayable(a.output.Bytes(), a.output.Wrapped())
	if !raw {
		out = plainText(out)
	}
	return []byte(a.redact(string(lastLines(out, tail)))), nil
}

// lastLines returns the last n lines of b; n <= 0 means all of it.
func lastLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end-- // a final newline ends the last line, it doesn't start one
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// plainText turns terminal output into lines of text: escape sequences
// and control characters go; a carriage return starts its line over, as
// on a terminal, so progress bars leave their last state; moving the
// cursor to another row ends the line, so a TUI's rows don't run together.
// It is a log reader's view, not a terminal emulator's.
func plainText(b []byte) []byte {
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
				out = append(out, bytes.Repeat([]byte{' '}, min(csiParam(b[start:i]), 200))...)
			case 'G', '`': // cursor to column n: TUIs space words this way
				col := utf8.RuneCount(out[lineStart:])
				if pad := min(csiParam(b[start:i]), 500) - 1 - col; pad > 0 {
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

// csiParam reads the first parameter of a CSI ("ESC [ 12 G" is 12); a
// missing one is 1.
func csiParam(seq []byte) int {
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

// Metrics is an agent's resource use, for the API. CPU and Memory are nil
// when the runtime can't tell, which is not the same as zero.
type Metrics struct {
	CPU          *float64 `json:"cpu"`    // percent of one core
	Memory       *uint64  `json:"memory"` // bytes
	Uptime       int64    `json:"uptime"` // milliseconds
	MessageCount int64    `json:"messageCount"`
}

// Metrics returns agent id's resource use and how many messages it has
// exchanged: messages sent to it plus replies it gave.
func (m *Manager) Metrics(ctx context.Context, id string) (Metrics, error) {
	a, err := m.find(id)
	if err != nil {
		return Metrics{}, err
	}
	out := Metrics{MessageCount: a.messages.Load()}
	a.mu.Lock()
	end := time.Now()
	if a.exit != nil && !a.exit.ExitedAt.IsZero() {
		end = a.exit.ExitedAt
	}
	live, rtName := a.status.live(), a.runtime
	a.mu.Unlock()
	out.Uptime = end.Sub(a.createdAt).Milliseconds()
	if !live {
		return out, nil
	}
	p, err := m.rts.Get(rtName)
	if err != nil {
		return out, nil
	}
	st, err := p.Stats(ctx, id)
	switch {
	case errors.Is(err, runtime.ErrUnsupported), errors.Is(err, runtime.ErrNotFound):
		return out, nil
	case err != nil:
		return out, err
	}
	out.CPU, out.Memory = &st.CPUPercent, &st.MemoryBytes
	return out, nil
}
