package plugin_test

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/parallax/parallax/sdk/runtime"
)

// basicRuntime is a fake with none of the optional interfaces. Its agents
// are terminals the test drives: it writes their output and reads their
// input.
type basicRuntime struct {
	mu         sync.Mutex
	configured runtime.ConfigureRequest
	agents     map[string]*fakeAgent
	stopped    map[string]runtime.StopOptions
	// fail, when set, is returned by every method.
	fail error
}

type fakeAgent struct {
	info   runtime.AgentInfo
	spec   runtime.Spec
	output *io.PipeWriter // the test writes the agent's output here
	conn   *fakeConn
}

func newBasicRuntime() *basicRuntime {
	return &basicRuntime{agents: map[string]*fakeAgent{}, stopped: map[string]runtime.StopOptions{}}
}

func (r *basicRuntime) agent(id string) (*fakeAgent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	a, ok := r.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	return a, nil
}

// The getters below are for the test goroutine, the fields are written by
// the server's.

func (r *basicRuntime) configuredWith() runtime.ConfigureRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.configured
}

func (r *basicRuntime) stoppedWith(id string) runtime.StopOptions {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped[id]
}

func (r *basicRuntime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "fake",
		Version:         "1.2.3",
		ProtocolVersion: 99, // the sdk overrides it
		DefaultPriority: 42,
		// Resize is claimed but not implemented: the sdk must correct it.
		Capabilities: runtime.Capabilities{Resize: true, CPULimit: true, Timeout: true},
		ConfigSchema: []runtime.ConfigAttr{
			{Name: "network", Type: "string", Required: true, Description: "docker network"},
			{Name: "images", Type: "map(string)"},
		},
		AgentPaths: runtime.AgentPaths{Home: "/home/agent", Workdir: "/workspace"},
	}, r.fail
}

func (r *basicRuntime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.configured = req
	return r.fail
}

func (r *basicRuntime) Health(context.Context) (runtime.Health, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return runtime.Health{Healthy: true, Message: "ok", ActiveAgents: len(r.agents)}, r.fail
}

func (r *basicRuntime) Start(_ context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return runtime.AgentInfo{}, r.fail
	}
	if _, ok := r.agents[spec.ID]; ok {
		return runtime.AgentInfo{}, fmt.Errorf("%w: %s", runtime.ErrAlreadyExists, spec.ID)
	}
	out, in := io.Pipe()
	a := &fakeAgent{
		info: runtime.AgentInfo{
			ID:        spec.ID,
			State:     runtime.StateRunning,
			PID:       4242,
			StartedAt: fixedTime,
			Labels:    spec.Labels,
			Warnings:  []string{"cpu limit not enforced"},
		},
		spec:   spec,
		output: in,
		conn:   &fakeConn{output: out, input: make(chan []byte, 64)},
	}
	r.agents[spec.ID] = a
	return a.info, nil
}

func (r *basicRuntime) Attach(_ context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.agent(id)
	if err != nil {
		return nil, err
	}
	return a.conn, nil
}

func (r *basicRuntime) Stop(_ context.Context, id string, opts runtime.StopOptions) error {
	if _, err := r.agent(id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped[id] = opts
	delete(r.agents, id)
	return nil
}

func (r *basicRuntime) Wait(_ context.Context, id string) (runtime.ExitStatus, error) {
	if _, err := r.agent(id); err != nil {
		return runtime.ExitStatus{}, err
	}
	return runtime.ExitStatus{Code: -1, Signal: "SIGTERM", Reason: "stopped", ExitedAt: fixedTime}, nil
}

func (r *basicRuntime) Inspect(_ context.Context, id string) (runtime.AgentInfo, error) {
	a, err := r.agent(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info, nil
}

func (r *basicRuntime) List(context.Context) ([]runtime.AgentInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.AgentInfo
	for _, a := range r.agents {
		out = append(out, a.info)
	}
	return out, r.fail
}

// fullRuntime adds every optional interface to basicRuntime.
type fullRuntime struct {
	*basicRuntime
	resized chan runtime.Size
}

func newFullRuntime() *fullRuntime {
	return &fullRuntime{basicRuntime: newBasicRuntime(), resized: make(chan runtime.Size, 16)}
}

func (r *fullRuntime) Resize(_ context.Context, id string, size runtime.Size) error {
	if _, err := r.agent(id); err != nil {
		return err
	}
	r.resized <- size
	return nil
}

func (r *fullRuntime) Stats(_ context.Context, id string) (runtime.Stats, error) {
	if _, err := r.agent(id); err != nil {
		return runtime.Stats{}, err
	}
	return runtime.Stats{CPUPercent: 12.5, MemoryBytes: 1 << 30, Uptime: 90_000_000_000, Processes: 3}, nil
}

func (r *fullRuntime) Recover(context.Context) ([]runtime.AgentInfo, error) {
	exit := runtime.ExitStatus{Code: 0, Reason: "exited", ExitedAt: fixedTime}
	return []runtime.AgentInfo{
		{ID: "survivor", State: runtime.StateRunning, PID: 7, StartedAt: fixedTime, Env: map[string]string{"API_KEY": "sk-secret"}},
		{ID: "gone", State: runtime.StateExited, Exit: &exit},
	}, nil
}

// fakeConn is an agent's terminal as the runtime hands it out.
type fakeConn struct {
	output *io.PipeReader
	input  chan []byte
}

func (c *fakeConn) Read(p []byte) (int, error) { return c.output.Read(p) }

func (c *fakeConn) Write(p []byte) (int, error) {
	c.input <- append([]byte(nil), p...)
	return len(p), nil
}

// Close detaches; the agent and its output go on.
func (c *fakeConn) Close() error { return nil }
