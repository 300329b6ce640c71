package agents

import (
	"context"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"
	"github.com/parallax/parallax/sdk/runtime"
)

// A host that restarts gets its agents back in three steps: Restore reads
// the store's records of the agents that were live, each runtime then
// Adopts the ones it still holds, and EndUnadopted closes the records of
// those none held.

// resumeBound bounds the output held back while a re-attached terminal
// replays what the store already has; see resumeFilter.
const resumeBound = 8 << 20

// Restore reads the records of the agents that were live when the host
// last stopped, for Adopt to give back their names, requests and history.
// Call it before the runtimes start.
func (m *Manager) Restore() error {
	if m.opts.Store == nil {
		return nil
	}
	recs, err := m.opts.Store.Agents()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restored = map[string]store.Agent{}
	for _, r := range recs {
		if r.EndedAt == nil && !r.Removed {
			m.restored[r.ID] = r
		}
	}
	return nil
}

// EndUnadopted closes the record of every agent that was live when the
// host stopped and that no runtime gave back: it ended while the host was
// down, and its runtime kept nothing of it. Call it once the runtimes
// started.
func (m *Manager) EndUnadopted() {
	m.mu.Lock()
	left := m.restored
	m.restored = nil
	m.mu.Unlock()
	for _, r := range left {
		m.endRecord(r, nil, "ended while the host was down; its runtime kept no exit status")
	}
}

// endRecord closes r as ended with exit st (nil if unknown).
func (m *Manager) endRecord(r store.Agent, st *runtime.ExitStatus, reason string) {
	now := time.Now().UTC()
	r.EndedAt, r.Status, r.Error = &now, string(session.StatusStopped), ""
	if st != nil {
		r.Exit = &store.Exit{Code: st.Code, Signal: st.Signal, Reason: st.Reason, At: st.ExitedAt}
		if st.Code != 0 || st.Signal != "" {
			r.Status, r.Error = string(session.StatusError), exitMessage(*st, nil)
		}
	} else {
		r.Status, r.Error = string(session.StatusError), reason
	}
	r.Statuses = append(r.Statuses, store.StatusChange{Status: r.Status, Reason: reason, At: now})
	m.opts.Store.PutAgent(r)
	m.log.Info("agent ended while the host was down", "agent", r.ID, "status", r.Status)
}

// Adopt takes over the agents a runtime holds from before its restart or
// the host's.
func (m *Manager) Adopt(runtimeName string, infos []runtime.AgentInfo) {
	if len(infos) == 0 {
		return
	}
	p, err := m.rts.Get(runtimeName)
	if err != nil {
		m.log.Error("cannot adopt agents", "runtime", runtimeName, "error", err)
		return
	}
	for _, info := range infos {
		m.mu.Lock()
		rec, known := m.restored[info.ID]
		delete(m.restored, info.ID)
		m.mu.Unlock()
		if info.State != runtime.StateRunning {
			if known {
				m.endRecord(rec, info.Exit, "ended while the host was down")
			}
			// Release what the runtime still holds of it.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = p.Stop(ctx, info.ID, runtime.StopOptions{Force: true})
			cancel()
			continue
		}
		a := m.adopted(runtimeName, info, rec, known)
		if a == nil {
			continue
		}
		m.log.Info("adopted agent", "agent", info.ID, "runtime", runtimeName)
		if err := m.attach(a, p); err != nil {
			m.log.Warn("attaching to adopted agent failed", "agent", a.id, "error", err)
		}
		_ = m.keep(a, false)
		if known && rec.Pooled {
			// Its pool is gone with the host that filled it; the new pool
			// fills itself.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultStopTimeout+5*time.Second)
				defer cancel()
				_, _ = m.Delete(ctx, a.id, StopOptions{})
			}()
			continue
		}
		m.resumeTurn(a)
	}
}

// adopted makes the agent for info, from the store's record when known,
// else from its labels, taking over from an agent of the same id that a
// plugin's restart lost.
func (m *Manager) adopted(runtimeName string, info runtime.AgentInfo, rec store.Agent, known bool) *agent {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.agents[info.ID]
	a := &agent{
		id: info.ID, name: info.Labels[LabelName], typ: info.Labels[LabelType], role: info.Labels[LabelRole],
		createdAt: info.StartedAt, output: newRing(outputBytes), exited: make(chan struct{}),
		runtime: runtimeName, status: session.StatusReady, warnings: info.Warnings,
		watchers: map[*Watcher]struct{}{},
		// Already running: only its screen can say when it is ready.
		startTimeout: -1,
		// Its home, if one is left, goes with it.
		dir: m.dirOf(info.ID),
	}
	if c := info.Labels[LabelCapabilities]; c != "" {
		a.capabilities = strings.Split(c, ",")
	}
	if known {
		a.name, a.typ, a.role, a.capabilities = rec.Name, rec.Type, rec.Role, rec.Capabilities
		a.createdAt, a.workdir, a.command, a.statuses = rec.CreatedAt, rec.Workdir, rec.Command, rec.Statuses
		a.req = requestOf(rec)
	}
	req := a.req
	req.Type = a.typ
	a.adapter = adapterFor(req, m.opts.AgentType(a.typ))
	if old != nil {
		old.cancel()
		a.createdAt, a.workdir, a.command, a.output = old.createdAt, old.workdir, old.command, old.output
		if old.outputDropped && old.store != nil {
			// Lost with its plugin, its buffer went to the store; a
			// runtime that adopts it again replays nothing from before.
			a.output = newRing(outputBytes)
			if kept, err := old.store.Output(a.id); err == nil {
				a.output.Write(kept[max(0, len(kept)-outputBytes):])
			}
		}
		// The labels hold what the agent was started with; a warm pool
		// agent may have been taken and renamed since.
		old.mu.Lock()
		a.name, a.role, a.capabilities, a.req = old.name, old.role, old.capabilities, old.req
		a.pool, a.retiring, a.poolReady = old.pool, old.retiring, old.poolReady
		a.statuses = old.statuses
		old.mu.Unlock()
		a.secrets = append(a.secrets, old.secrets...)
		old.releaseSecrets()
	}
	// The runtime's store gives back the env the agent runs with, so a
	// host that restarted masks its keys too.
	a.secrets = append(a.secrets, agentSecrets(adapter.Credentials{}, info.Env)...)
	a.release = m.opts.Secrets.Hold(a.secrets)
	m.useStore(a)
	if a.store != nil {
		// The runtime replays its scrollback on attach; the store has
		// most of it already.
		if kept, err := a.store.Output(a.id); err == nil {
			a.resume = newResumeFilter(kept[max(0, len(kept)-resumeTail):], resumeBound)
		}
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	m.agents[info.ID] = a
	return a
}

// resumeTail is how much of the kept output the resume filter matches
// the replay against.
const resumeTail = 64 << 10

// resumeTurn finishes, in the background, a turn that was in flight when
// the host stopped: the last message sent with expectResponse that has no
// reply yet. Its reply lands in the transcript as any other.
func (m *Manager) resumeTurn(a *agent) {
	if a.store == nil {
		return
	}
	entries, err := a.store.Transcript(a.id)
	if err != nil {
		m.log.Warn("reading the transcript of an adopted agent failed", "agent", a.id, "error", err)
		return
	}
	var sent *store.Entry
	for i := range entries {
		switch entries[i].Kind {
		case store.KindSent:
			sent = &entries[i]
		case store.KindReply:
			sent = nil
		}
	}
	if sent == nil || !sent.ExpectResponse {
		return
	}
	a.mu.Lock()
	sess := a.session
	a.mu.Unlock()
	if sess == nil {
		return
	}
	m.log.Info("waiting for the turn that was in flight when the host stopped", "agent", a.id)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if _, err := sess.AwaitReply(a.ctx, sent.Text); err != nil && a.ctx.Err() == nil {
			m.log.Warn("the turn in flight at the restart got no reply", "agent", a.id, "error", err)
		}
	}()
}
