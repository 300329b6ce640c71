// Package agenttable keeps the books of a runtime's agents, the part of
// runtime.Runtime that is the same in every runtime: which ids it holds,
// how each agent ended and why, its deadline, Wait, Inspect and List, and
// the frame of Start and Stop.
//
// A runtime's agent type embeds *Agent, made by NewAgent, and the runtime
// keeps a Table of them, which it opens at the end of Configure:
//
//	type agent struct {
//		*agenttable.Agent
//		proc *os.Process // what the runtime itself needs
//	}
//
//	type Runtime struct{ agents agenttable.Table[*agent] }
//
//	func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
//		return r.agents.Start(spec.ID, func() (*agent, error) { return r.launch(ctx, spec) })
//	}
//
//	func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
//		return r.agents.Wait(ctx, id)
//	}
//
// When an agent's process ends, the runtime calls Exit with how, then
// Drained once the output is all in. Stop ends an agent with Terminate and
// frees it with Release.
package agenttable

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/parallax/parallax/sdk/runtime"
)

// Handle is a runtime's agent type: a pointer to a struct that embeds
// *Agent.
type Handle interface{ agent() *Agent }

// Table holds a runtime's agents by id. The zero Table is empty and
// closed: its calls return runtime.ErrNotConfigured until Open.
type Table[A Handle] struct {
	mu     sync.Mutex
	open   bool
	agents map[string]slot[A]

	// starts is held shared by every Start, so that PauseStarts can keep
	// them out.
	starts sync.RWMutex
}

// slot is an agent, or an id a Start in progress holds.
type slot[A any] struct {
	a     A
	ready bool
}

// Open lets calls through.
func (t *Table[A]) Open() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open = true
}

// Ready returns runtime.ErrNotConfigured until Open.
func (t *Table[A]) Ready() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready()
}

func (t *Table[A]) ready() error {
	if !t.open {
		return runtime.ErrNotConfigured
	}
	return nil
}

// Start holds id while launch runs and keeps the agent it returns. A Start
// of an id the table holds, or one still starting, fails with
// runtime.ErrAlreadyExists.
func (t *Table[A]) Start(id string, launch func() (A, error)) (runtime.AgentInfo, error) {
	t.starts.RLock()
	defer t.starts.RUnlock()
	t.mu.Lock()
	err := t.ready()
	if _, taken := t.agents[id]; taken && err == nil {
		err = fmt.Errorf("%w: %q", runtime.ErrAlreadyExists, id)
	}
	if err == nil {
		t.put(id, slot[A]{})
	}
	t.mu.Unlock()
	if err != nil {
		return runtime.AgentInfo{}, err
	}

	a, err := launch()
	t.mu.Lock()
	if err != nil {
		delete(t.agents, id)
	} else {
		t.put(id, slot[A]{a: a, ready: true})
	}
	t.mu.Unlock()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.agent().Info(), nil
}

func (t *Table[A]) put(id string, s slot[A]) {
	if t.agents == nil {
		t.agents = make(map[string]slot[A])
	}
	t.agents[id] = s
}

// PauseStarts waits for the Starts in progress and keeps new ones waiting
// until resume is called. Recover pauses them, so that it never takes an
// agent that is just starting for one an earlier plugin process left.
func (t *Table[A]) PauseStarts() (resume func()) {
	t.starts.Lock()
	return t.starts.Unlock
}

// Add keeps an agent that Recover adopted.
func (t *Table[A]) Add(a A) error {
	id := a.agent().ID
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, taken := t.agents[id]; taken {
		return fmt.Errorf("%w: %q", runtime.ErrAlreadyExists, id)
	}
	t.put(id, slot[A]{a: a, ready: true})
	return nil
}

// Has reports whether the table holds id, or a Start of it is in progress.
func (t *Table[A]) Has(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.agents[id]
	return ok
}

// IDs lists the ids Has reports.
func (t *Table[A]) IDs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.agents))
	for id := range t.agents {
		ids = append(ids, id)
	}
	return ids
}

// Get returns agent id, or an error wrapping runtime.ErrNotFound.
func (t *Table[A]) Get(id string) (A, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var none A
	if err := t.ready(); err != nil {
		return none, err
	}
	s := t.agents[id]
	if !s.ready {
		return none, fmt.Errorf("%w: %q", runtime.ErrNotFound, id)
	}
	return s.a, nil
}

// all returns the agents, not the ids being started.
func (t *Table[A]) all() ([]A, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ready(); err != nil {
		return nil, err
	}
	agents := make([]A, 0, len(t.agents))
	for _, s := range t.agents {
		if s.ready {
			agents = append(agents, s.a)
		}
	}
	return agents, nil
}

// Stop gets agent id and calls end, which ends and frees it. Once end
// succeeds the table forgets the agent.
func (t *Table[A]) Stop(id string, end func(a A) error) error {
	a, err := t.Get(id)
	if err != nil {
		return err
	}
	if err := end(a); err != nil {
		return fmt.Errorf("stop %q: %w", id, err)
	}
	t.mu.Lock()
	// A Start may have taken the id again meanwhile; that one stays.
	if s := t.agents[id]; s.ready && s.a.agent() == a.agent() {
		delete(t.agents, id)
	}
	t.mu.Unlock()
	a.agent().log.Info("agent stopped")
	return nil
}

// Wait waits for agent id to exit, or ctx to end.
func (t *Table[A]) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	a, err := t.Get(id)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	select {
	case <-a.agent().exited:
		return *a.agent().Info().Exit, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

// Inspect describes agent id.
func (t *Table[A]) Inspect(id string) (runtime.AgentInfo, error) {
	a, err := t.Get(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.agent().Info(), nil
}

// List describes every agent, in the order they started.
func (t *Table[A]) List() ([]runtime.AgentInfo, error) {
	return t.list(false)
}

// ListWithEnv is List with each agent's Env, for runtime.Adopter's
// Recover: it returns every agent the runtime holds, running or exited and
// not yet stopped.
func (t *Table[A]) ListWithEnv() ([]runtime.AgentInfo, error) {
	return t.list(true)
}

func (t *Table[A]) list(withEnv bool) ([]runtime.AgentInfo, error) {
	agents, err := t.all()
	if err != nil {
		return nil, err
	}
	infos := make([]runtime.AgentInfo, 0, len(agents))
	for _, a := range agents {
		info := a.agent().Info()
		if withEnv {
			info.Env = maps.Clone(a.agent().Env)
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(x, y runtime.AgentInfo) int {
		return cmp.Or(x.StartedAt.Compare(y.StartedAt), strings.Compare(x.ID, y.ID))
	})
	return infos, nil
}

// Active counts the agents that have not exited, for Health.
func (t *Table[A]) Active() int {
	agents, _ := t.all()
	n := 0
	for _, a := range agents {
		if !a.agent().HasExited() {
			n++
		}
	}
	return n
}

// Resize checks size and calls resize with agent id.
func (t *Table[A]) Resize(id string, size runtime.Size, resize func(a A) error) error {
	a, err := t.Get(id)
	if err != nil {
		return err
	}
	if size.Cols == 0 || size.Rows == 0 {
		return fmt.Errorf("%w: size %dx%d: columns and rows must be positive", runtime.ErrInvalidSpec, size.Cols, size.Rows)
	}
	return resize(a)
}

// WhileEmpty calls fn, for Close, if the table is open and holds no agent
// nor a Start in progress, and keeps Starts from taking an id until fn
// returns. Otherwise it returns nil.
func (t *Table[A]) WhileEmpty(fn func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open || len(t.agents) > 0 {
		return nil
	}
	return fn()
}
