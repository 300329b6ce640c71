package agents

import (
	"github.com/parallax/parallax/host/internal/screen"
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
		out = screen.PlainText(out)
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
