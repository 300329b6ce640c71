package agents

import (
	"errors"

	"github.com/parallax/parallax/host/internal/screen"
)

// Logs returns the last tail lines (all when tail <= 0) of agent id's
// recent output: as plain text, or as the raw bytes with raw.
func (m *Manager) Logs(id string, tail int, raw bool) ([]byte, error) {
	a, err := m.find(id)
	var out []byte
	switch {
	case errors.Is(err, ErrNotFound):
		// Ended before the host's restart, or deleted: the store has it.
		if out, err = m.storedLogs(id); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if out, err = a.outputBytes(); err != nil {
			return nil, err
		}
	}
	if !raw {
		out = screen.PlainText(out)
	}
	if a != nil {
		out = []byte(a.redact(string(out)))
	}
	return lastLines(out, tail), nil
}

// outputBytes is a's recent output: from memory, or from the store once
// a ended and its buffer went.
func (a *agent) outputBytes() ([]byte, error) {
	a.termMu.Lock()
	dropped := a.outputDropped
	out := replayable(a.output.Bytes(), a.output.Wrapped())
	a.termMu.Unlock()
	if dropped {
		return a.store.Output(a.id)
	}
	return out, nil
}

// dropOutput frees an ended agent's output in memory, where the store
// keeps it: a host with a long history must not hold every buffer.
func (a *agent) dropOutput() {
	if a.store == nil {
		return
	}
	a.termMu.Lock()
	a.output, a.outputDropped = newRing(0), true
	a.termMu.Unlock()
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
