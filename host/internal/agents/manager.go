package agents

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/store"
)

// Runtimes is what the manager needs of the runtime plugins.
type Runtimes interface {
	Candidates(name string) ([]runtimes.Candidate, error)
	Get(name string) (runtimes.Plugin, error)
	Kick(name string)
}

// ErrNotFound means no agent has the id.
var ErrNotFound = errors.New("agent not found")

// outputBytes bounds the output kept per agent.
const outputBytes = 256 << 10

// DefaultStopTimeout is how long a graceful stop waits before it kills.
const DefaultStopTimeout = 10 * time.Second

// Options configure a Manager.
type Options struct {
	// DataDir holds each agent's private home, under agents/<id>/home.
	DataDir string
	// Bus gets the agents' events; nil drops them.
	Bus *events.Bus
	// AgentType returns how to start agents of a type; nil means defaults.
	AgentType func(name string) config.AgentType
	// Settle is how long a screen must be still before it counts; 0 means
	// the session's default.
	Settle time.Duration
	// AllowedWorkdirs, if not empty, are the directories workdirs must be
	// in.
	AllowedWorkdirs []string
	// OnSpawn, if set, hears of every spawn that passed validation: how
	// long it took and how it ended; runtime is "" when none took it. A
	// spawn served by the warm pool counts; the pool's own spawns don't.
	OnSpawn func(agentType, runtime string, took time.Duration, err error)
	// WarmPool lists the warm pools to keep; see StartPools.
	WarmPool []config.WarmPool
	// MaxAgents and MaxWatchersPerAgent bound the agents kept and the
	// terminal clients of each; 0 means no bound.
	MaxAgents, MaxWatchersPerAgent int
	// Policy narrows what spawn requests may run.
	Policy Policy
	// Secrets gets every live agent's secrets, for the host's log to mask
	// (see redact.Set.Writer); nil means a set of the manager's own.
	Secrets *redact.Set
	// Store keeps the agents' records, transcripts and output across
	// restarts; nil keeps them in memory only, until Delete.
	Store *store.Store
}

// Manager keeps the managed agents.
type Manager struct {
	log  hclog.Logger
	rts  Runtimes
	opts Options

	mu     sync.RWMutex
	agents map[string]*agent
	wg     sync.WaitGroup // watchers
	pools  *warmPool      // nil without a warm pool
	// restored holds the store's records of the agents that were live
	// when the host stopped, until a runtime adopts them; see Restore.
	restored map[string]store.Agent
}

// NewManager returns a Manager that spawns on rts.
func NewManager(log hclog.Logger, rts Runtimes, opts Options) *Manager {
	if opts.AgentType == nil {
		opts.AgentType = config.DefaultAgentType
	}
	if opts.Bus == nil {
		opts.Bus = events.NewBus()
	}
	if opts.Secrets == nil {
		opts.Secrets = redact.NewSet(redact.DefaultLinger)
	}
	m := &Manager{log: log, rts: rts, opts: opts, agents: map[string]*agent{}}
	m.pools = newWarmPool(m, opts.WarmPool)
	return m
}

// publish sends an agent's event, with every secret masked wherever it
// is in d: the agent's own and any other live agent's.
func (m *Manager) publish(a *agent, d events.Data) {
	e := events.New(a.id, d)
	e.Data = m.opts.Secrets.Typed(redact.Typed(d, a.secrets)).(events.Data)
	m.opts.Bus.Publish(e)
}

// Get returns one agent, from the history if it ended before the host's
// restart or was deleted.
func (m *Manager) Get(id string) (View, error) {
	a, err := m.find(id)
	if err == nil {
		return a.view(), nil
	}
	r, ok, serr := m.stored(id)
	if serr != nil {
		return View{}, serr
	}
	if !ok {
		return View{}, err
	}
	return viewOf(r), nil
}

func (m *Manager) find(id string) (*agent, error) {
	m.mu.RLock()
	a := m.agents[id]
	m.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return a, nil
}

// List returns every agent not deleted, oldest first; with all, the
// deleted ones too.
func (m *Manager) List(all bool) ([]View, error) {
	out, err := m.history(all)
	if err != nil {
		return nil, err
	}
	for _, a := range m.all() {
		out = append(out, a.view())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Live returns the agents in memory, oldest first: the running ones and
// those that ended since the host started and were not deleted.
func (m *Manager) Live() []View {
	all := m.all()
	out := make([]View, len(all))
	for i, a := range all {
		out[i] = a.view()
	}
	return out
}

func (m *Manager) all() []*agent {
	m.mu.RLock()
	out := make([]*agent, 0, len(m.agents))
	for _, a := range m.agents {
		out = append(out, a)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.Before(out[j].createdAt)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (m *Manager) remove(a *agent) {
	m.mu.Lock()
	if m.agents[a.id] == a {
		delete(m.agents, a.id)
	}
	m.mu.Unlock()
	a.cancel()
	a.closeTerminal()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.removeDir(a)
	a.releaseSecrets()
}
