package agents

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"
)

// The store keeps what must outlive the host: every agent's record, its
// transcript and its terminal output. Without a store (no data dir, as in
// some tests) the manager keeps only what is in memory.

// ErrNoHistory means the host keeps no store, so no transcripts.
var ErrNoHistory = errors.New("this host keeps no history: it runs without a store (server.data_dir)")

// maxStatuses bounds the status changes kept in an agent's record.
const maxStatuses = 100

// Message is one line of an agent's transcript, as the API shows it.
type Message = store.Entry

// record is a's record for the store. Credentials never go in: the
// request loses them, and every text is masked.
func (a *agent) recordLocked() store.Agent {
	req := a.req
	req.Credentials = adapter.Credentials{}
	raw, _ := json.Marshal(redact.Typed(req, a.secrets))
	r := store.Agent{
		ID: a.id, Name: a.name, Type: a.typ, Runtime: a.runtime, Role: a.role, Workdir: a.workdir,
		Capabilities: a.capabilities, Command: redact.Value(a.command, a.secrets).([]string),
		Request: raw, CreatedAt: a.createdAt, Status: string(a.status), Error: a.redact(a.errMsg),
		Statuses: a.statuses, Pooled: a.pool != nil,
	}
	if a.session != nil && a.status.Live() {
		r.Status = string(a.session.Status())
	}
	if a.exit != nil {
		r.Exit = &store.Exit{Code: a.exit.Code, Signal: a.exit.Signal, Reason: a.redact(a.exit.Reason), At: a.exit.ExitedAt}
	}
	if !a.endedAt.IsZero() {
		at := a.endedAt
		r.EndedAt = &at
	}
	return r
}

// keep writes a's record to the store, waiting for the disk with sync.
// It queues under a.mu, so records reach the store in the order of the
// changes, and none after Delete wrote the last.
func (m *Manager) keep(a *agent, sync bool) error {
	if m.opts.Store == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.forgotten {
		return nil
	}
	if sync {
		return m.opts.Store.PutAgentSync(a.recordLocked())
	}
	m.opts.Store.PutAgent(a.recordLocked())
	return nil
}

// forget writes a's last record, as deleted, or purges it; nothing of a
// is written after.
func (m *Manager) forget(a *agent, purge bool) error {
	a.mu.Lock()
	a.forgotten = true
	r := a.recordLocked()
	a.mu.Unlock()
	if m.opts.Store == nil {
		return nil
	}
	if purge {
		return m.opts.Store.Purge(a.id)
	}
	r.Removed = true
	return m.opts.Store.PutAgentSync(r)
}

// noteStatus adds a status change to a's history and keeps the record.
func (m *Manager) noteStatus(a *agent, status session.Status, reason string) {
	a.mu.Lock()
	a.statuses = append(a.statuses, store.StatusChange{Status: string(status), Reason: a.redact(reason), At: time.Now().UTC()})
	if len(a.statuses) > maxStatuses {
		a.statuses = append(a.statuses[:0:0], a.statuses[len(a.statuses)-maxStatuses:]...)
	}
	a.mu.Unlock()
	_ = m.keep(a, false)
}

// transcribe adds a line to a's transcript.
func (m *Manager) transcribe(a *agent, e store.Entry) {
	if m.opts.Store == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Text = a.redact(e.Text)
	e.Choices = redact.Value(e.Choices, a.secrets).([]string)
	m.opts.Store.AppendTranscript(a.id, e)
}

// Messages returns agent id's transcript: the messages sent to it and its
// replies, and the questions it asked and their answers, oldest first.
func (m *Manager) Messages(id string) ([]Message, error) {
	if _, err := m.Get(id); err != nil {
		return nil, err
	}
	if m.opts.Store == nil {
		return nil, ErrNoHistory
	}
	out, err := m.opts.Store.Transcript(id)
	if out == nil {
		out = []Message{}
	}
	return out, err
}

// viewOf is the view of an agent the store remembers but memory doesn't:
// one that ended before the host's restart, or was deleted.
func viewOf(r store.Agent) View {
	v := View{
		ID: r.ID, Name: r.Name, Type: r.Type, Status: session.Status(r.Status), Runtime: r.Runtime,
		CreatedAt: r.CreatedAt, Capabilities: r.Capabilities, Role: r.Role, Workdir: r.Workdir,
		Command: r.Command, Error: r.Error, EndedAt: r.EndedAt, Removed: r.Removed,
	}
	if v.Capabilities == nil {
		v.Capabilities = []string{}
	}
	if r.Exit != nil {
		v.Exit = &Exit{Code: r.Exit.Code, Signal: r.Exit.Signal, Reason: r.Exit.Reason}
	}
	return v
}

// stored returns the store's record of id, if any.
func (m *Manager) stored(id string) (store.Agent, bool, error) {
	if m.opts.Store == nil {
		return store.Agent{}, false, nil
	}
	return m.opts.Store.Agent(id)
}

// history returns the records of ended agents that memory no longer
// holds, the deleted ones too with all.
func (m *Manager) history(all bool) ([]View, error) {
	if m.opts.Store == nil {
		return nil, nil
	}
	recs, err := m.opts.Store.Agents()
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []View
	for _, r := range recs {
		if m.agents[r.ID] != nil || (r.Removed && !all) {
			continue
		}
		out = append(out, viewOf(r))
	}
	return out, nil
}

// storedLogs is the output the store kept of an agent that ended.
func (m *Manager) storedLogs(id string) ([]byte, error) {
	if _, ok, err := m.stored(id); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return nil, err
	}
	return m.opts.Store.Output(id)
}

// requestOf is the spawn request r was made with, credentials left out.
func requestOf(r store.Agent) SpawnRequest {
	var req SpawnRequest
	if len(r.Request) > 0 {
		_ = json.Unmarshal(r.Request, &req)
	}
	return req
}
