package agents

import (
	"context"
	"strings"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/runtime"
)

// Adopt takes over agents a runtime still runs from before its restart.
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
		if info.State != runtime.StateRunning {
			continue
		}
		m.mu.Lock()
		old := m.agents[info.ID]
		a := &agent{
			id: info.ID, name: info.Labels[LabelName], typ: info.Labels[LabelType], role: info.Labels[LabelRole],
			createdAt: info.StartedAt, output: newRing(outputBytes), exited: make(chan struct{}),
			runtime: runtimeName, status: session.StatusReady, warnings: info.Warnings,
			watchers: map[*Watcher]struct{}{},
			// Its home, if one is left, goes with it.
			dir: m.dirOf(info.ID),
		}
		if c := info.Labels[LabelCapabilities]; c != "" {
			a.capabilities = strings.Split(c, ",")
		}
		a.adapter, _ = adapter.For(a.typ)
		if a.adapter == nil {
			a.adapter = adapter.Custom{}
		}
		if old != nil {
			old.cancel()
			a.createdAt, a.workdir, a.command, a.output = old.createdAt, old.workdir, old.command, old.output
			// The labels hold what the agent was started with; a warm pool
			// agent may have been taken and renamed since.
			old.mu.Lock()
			a.name, a.role, a.capabilities, a.req = old.name, old.role, old.capabilities, old.req
			a.pool, a.retiring, a.poolReady = old.pool, old.retiring, old.poolReady
			old.mu.Unlock()
			a.secrets = append(a.secrets, old.secrets...)
			old.releaseSecrets()
		}
		// The runtime's store gives back the env the agent runs with, so a
		// host that restarted masks its keys too.
		a.secrets = append(a.secrets, agentSecrets(adapter.Credentials{}, info.Env)...)
		a.release = m.opts.Secrets.Hold(a.secrets)
		a.ctx, a.cancel = context.WithCancel(context.Background())
		m.agents[info.ID] = a
		m.mu.Unlock()
		m.log.Info("adopted agent", "agent", info.ID, "runtime", runtimeName)
		if err := m.attach(a, p); err != nil {
			m.log.Warn("attaching to adopted agent failed", "agent", a.id, "error", err)
		}
	}
}
