package agents

import (
	"context"
	"errors"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

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
	live, rtName := a.status.Live(), a.runtime
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
