package agents

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/parallax/parallax/sdk/runtime"
)

// dirOf is agent id's directory in the data dir: its private home and
// scratch workdir, removed when it ends; "" without a data dir.
func (m *Manager) dirOf(id string) string {
	if m.opts.DataDir == "" {
		return ""
	}
	return filepath.Join(m.opts.DataDir, "agents", id)
}

// copied reports whether nothing in a's directory is read from the host
// once a runs: its runtime copied the home into the agent's own
// filesystem (paths.Home) and workdir is not a scratch one in it.
func copied(paths runtime.AgentPaths, workdir string, a *agent) bool {
	if paths.Home == "" || a.dir == "" {
		return false
	}
	rel, err := filepath.Rel(a.dir, workdir)
	inDir := err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	return workdir == "" || !inDir
}

// removeDir removes a's directory, unless a newer agent of the same id (a
// restart with new credentials) owns it by now. The check and removal run
// under m.mu, which a new agent takes to register before it makes its
// directory, so a late removal never takes the new agent's.
func (m *Manager) removeDir(a *agent) {
	if a.dir == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.agents[a.id]; cur != nil && cur != a {
		return
	}
	// The home holds the agent's keys, so it goes once the agent
	// ended, and its scratch workdir with it.
	if err := os.RemoveAll(a.dir); err != nil {
		m.log.Warn("removing the agent's directory failed", "agent", a.id, "error", err)
	}
}

// SweepDirs removes every agent directory in the data dir that belongs to
// no live agent: what a host killed before it could clean up left. Run it
// once the runtimes adopted their agents, before any spawn.
func (m *Manager) SweepDirs() {
	if m.opts.DataDir == "" {
		return
	}
	root := filepath.Join(m.opts.DataDir, "agents")
	entries, err := os.ReadDir(root)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("sweeping agent directories failed", "error", err)
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		if a := m.agents[e.Name()]; a != nil {
			if st, _ := a.snapshot(); st.Live() {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			m.log.Warn("removing a left-over agent directory failed", "agent", e.Name(), "error", err)
			continue
		}
		m.log.Info("removed the directory of an agent that is gone", "agent", e.Name())
	}
}
