// Package fakeruntime is an in-memory runtime for the host's unit tests of
// selection, fall-through and plugin restarts: its agents are no processes,
// only records that run until stopped. Tests serve it over real gRPC with
// sdk/plugin.TestClient. Everything about real processes is tested against
// runtime-local instead.
package fakeruntime

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// Runtime is the fake. Set its fields before serving it.
type Runtime struct {
	Name            string
	DefaultPriority int
	Schema          []runtime.ConfigAttr
	// StartErr, when set, is what every Start returns.
	StartErr error
	// Screen, when set, gives what an agent's terminal shows once
	// attached, such as its CLI's prompt, so that its adapter sees it
	// ready.
	Screen func(spec runtime.Spec) []byte

	mu         sync.Mutex
	unhealthy  string
	configured runtime.ConfigureRequest
	agents     map[string]*agent
	exited     map[string]*agent
}

type agent struct {
	info   runtime.AgentInfo
	screen []byte
	done   chan struct{}
	exit   runtime.ExitStatus
}

// SetUnhealthy makes Health report msg; "" makes it healthy again.
func (r *Runtime) SetUnhealthy(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unhealthy = msg
}

// Configured returns what Configure was given.
func (r *Runtime) Configured() runtime.ConfigureRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.configured
}

// Started returns the ids of the agents started and not stopped.
func (r *Runtime) Started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.agents {
		ids = append(ids, id)
	}
	return ids
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{Name: r.Name, Version: "fake", DefaultPriority: r.DefaultPriority,
		ConfigSchema: r.Schema, Capabilities: runtime.Capabilities{Timeout: true}}, nil
}

func (r *Runtime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.configured = req
	r.agents = map[string]*agent{}
	r.exited = map[string]*agent{}
	return nil
}

func (r *Runtime) Health(context.Context) (runtime.Health, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return runtime.Health{Healthy: r.unhealthy == "", Message: r.unhealthy, ActiveAgents: len(r.agents)}, nil
}

func (r *Runtime) Start(_ context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	if r.StartErr != nil {
		return runtime.AgentInfo{}, r.StartErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.agents[spec.ID]; ok {
		return runtime.AgentInfo{}, fmt.Errorf("%w: %s", runtime.ErrAlreadyExists, spec.ID)
	}
	a := &agent{
		info: runtime.AgentInfo{ID: spec.ID, State: runtime.StateRunning, StartedAt: time.Now(), Labels: spec.Labels},
		done: make(chan struct{}),
	}
	if r.Screen != nil {
		a.screen = r.Screen(spec)
	}
	r.agents[spec.ID] = a
	return a.info, nil
}

func (r *Runtime) get(id string) (*agent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	return a, nil
}

// Attach returns a terminal that shows Screen, then nothing more, and
// ends when the agent does.
func (r *Runtime) Attach(_ context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.get(id)
	if err != nil {
		return nil, err
	}
	return &conn{done: a.done, closed: make(chan struct{}), screen: a.screen}, nil
}

// Exit ends agent id as if its process exited with code.
func (r *Runtime) Exit(id string, code int) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.agents, id)
	r.exited[id] = a
	select {
	case <-a.done:
	default:
		a.exit = runtime.ExitStatus{Code: code, Reason: "exited", ExitedAt: time.Now()}
		close(a.done)
	}
	return nil
}

func (r *Runtime) Stop(_ context.Context, id string, opts runtime.StopOptions) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.agents, id)
	// Keep the exit for a Wait that arrives after Stop, as runtimes may.
	r.exited[id] = a
	select {
	case <-a.done:
	default:
		a.exit = runtime.ExitStatus{Code: -1, Signal: "SIGTERM", Reason: "stopped", ExitedAt: time.Now()}
		if opts.Force {
			a.exit.Signal, a.exit.Reason = "SIGKILL", "killed"
		}
		close(a.done)
	}
	r.mu.Unlock()
	return nil
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	a, err := r.get(id)
	if err != nil {
		r.mu.Lock()
		a = r.exited[id]
		r.mu.Unlock()
		if a == nil {
			return runtime.ExitStatus{}, err
		}
	}
	select {
	case <-a.done:
		r.mu.Lock()
		defer r.mu.Unlock()
		return a.exit, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (r *Runtime) Inspect(_ context.Context, id string) (runtime.AgentInfo, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info, nil
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.AgentInfo
	for _, a := range r.agents {
		out = append(out, a.info)
	}
	return out, nil
}

type conn struct {
	done      <-chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	screen    []byte // still to be read
}

func (c *conn) Read(p []byte) (int, error) {
	if len(c.screen) > 0 {
		n := copy(p, c.screen)
		c.screen = c.screen[n:]
		return n, nil
	}
	select {
	case <-c.done:
	case <-c.closed:
	}
	return 0, io.EOF
}

func (c *conn) Write(p []byte) (int, error) { return len(p), nil }

func (c *conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
