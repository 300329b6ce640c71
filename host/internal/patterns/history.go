package patterns

import (
	"encoding/json"
	"time"
)

// Journal keeps executions across host restarts.
type Journal interface {
	PutExecution(id string, startedAt time.Time, raw []byte)
	Execution(id string) ([]byte, bool, error)
	Executions() ([][]byte, error)
}

// WithJournal keeps every execution, step by step, in j, and shows the
// ones an earlier host ran.
func WithJournal(j Journal) Option {
	return func(e *Engine) { e.journal = j }
}

// keepLocked writes x to the journal; e.mu is held, so writes go in the
// order of the changes.
func (e *Engine) keepLocked(x *Execution) {
	if e.journal == nil {
		return
	}
	raw, err := json.Marshal(x)
	if err != nil {
		e.log.Warn("keeping the execution failed", "execution", x.ID, "error", err)
		return
	}
	e.journal.PutExecution(x.ID, x.StartedAt, raw)
}

// keep is keepLocked for callers that don't hold e.mu.
func (e *Engine) keep(x *Execution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keepLocked(x)
}

// stored returns an execution an earlier host ran.
func (e *Engine) stored(id string) (Execution, bool, error) {
	if e.journal == nil {
		return Execution{}, false, nil
	}
	raw, ok, err := e.journal.Execution(id)
	if err != nil || !ok {
		return Execution{}, false, err
	}
	var x Execution
	if err := json.Unmarshal(raw, &x); err != nil {
		return Execution{}, false, err
	}
	return x, true, nil
}

// EndInterrupted marks the executions an earlier host left running as
// failed: their goroutines died with it. Call it before any Execute.
func (e *Engine) EndInterrupted() error {
	if e.journal == nil {
		return nil
	}
	all, err := e.journal.Executions()
	if err != nil {
		return err
	}
	for _, raw := range all {
		var x Execution
		if json.Unmarshal(raw, &x) != nil || x.Status != StatusRunning {
			continue
		}
		now := time.Now().UTC()
		x.Status, x.Error, x.EndedAt = StatusFailed, "the host stopped during the execution", &now
		for i := range x.Steps {
			if x.Steps[i].Status == StatusRunning {
				x.Steps[i].Status, x.Steps[i].Error = StatusFailed, x.Error
			}
		}
		e.keep(&x)
	}
	return nil
}
