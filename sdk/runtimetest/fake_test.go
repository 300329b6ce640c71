//go:build unix

package runtimetest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// TestSuiteAgainstFake checks the suite itself against a minimal runtime
// built on pipes. The sdk can't depend on a PTY library, so what needs a
// TTY is left to the real runtimes' runs of the suite.
func TestSuiteAgainstFake(t *testing.T) {
	Run(t, Options{
		New: func(t *testing.T) runtime.Runtime {
			f := &fake{agents: map[string]*fakeAgent{}}
			t.Cleanup(f.killAll)
			return f
		},
		LocalWorkdir: true,
		noTTY:        true,
	})
}

// TestSuiteAgainstFakeOverGRPC runs the fake through the sdk's wire, where
// the optional methods exist on the client whatever the runtime has.
func TestSuiteAgainstFakeOverGRPC(t *testing.T) {
	Run(t, Options{
		New: func(t *testing.T) runtime.Runtime {
			f := &fake{agents: map[string]*fakeAgent{}}
			t.Cleanup(f.killAll)
			return ServeInProcess(t, f, nil)
		},
		LocalWorkdir: true,
		noTTY:        true,
	})
}

type fake struct {
	mu     sync.Mutex
	agents map[string]*fakeAgent
}

type fakeAgent struct {
	spec     runtime.Spec
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	started  time.Time
	warnings []string
	done     chan struct{}

	mu     sync.Mutex
	cond   *sync.Cond
	out    []byte
	reason string // why the runtime ended it, if it did
	exit   *runtime.ExitStatus
}

func (a *fakeAgent) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.out = append(a.out, p...)
	a.cond.Broadcast()
	return len(p), nil
}

// signal signals the agent's process group, so children go too.
func (a *fakeAgent) signal(sig syscall.Signal, reason string) {
	a.mu.Lock()
	if a.reason == "" {
		a.reason = reason
	}
	a.mu.Unlock()
	_ = syscall.Kill(-a.cmd.Process.Pid, sig)
}

func (a *fakeAgent) info() runtime.AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := runtime.AgentInfo{
		ID:        a.spec.ID,
		State:     runtime.StateRunning,
		PID:       a.cmd.Process.Pid,
		StartedAt: a.started,
		Labels:    a.spec.Labels,
		Warnings:  a.warnings,
	}
	if a.exit != nil {
		st := *a.exit
		info.State, info.Exit = runtime.StateExited, &st
	}
	return info
}

func (f *fake) get(id string) (*fakeAgent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", runtime.ErrNotFound, id)
	}
	return a, nil
}

func (f *fake) killAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.agents {
		a.signal(syscall.SIGKILL, "killed")
	}
}

func (f *fake) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "fake",
		ProtocolVersion: runtime.ProtocolVersion,
		Capabilities:    runtime.Capabilities{Timeout: true, Adopt: true},
	}, nil
}

func (f *fake) Configure(context.Context, runtime.ConfigureRequest) error { return nil }

func (f *fake) Health(context.Context) (runtime.Health, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.agents {
		if a.info().State == runtime.StateRunning {
			n++
		}
	}
	return runtime.Health{Healthy: true, ActiveAgents: n}, nil
}

func (f *fake) Start(_ context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	if spec.ID == "" || len(spec.Argv) == 0 {
		return runtime.AgentInfo{}, fmt.Errorf("%w: need an id and argv", runtime.ErrInvalidSpec)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.agents[spec.ID]; ok {
		return runtime.AgentInfo{}, fmt.Errorf("%w: %q", runtime.ErrAlreadyExists, spec.ID)
	}
	a := &fakeAgent{spec: spec, done: make(chan struct{})}
	a.cond = sync.NewCond(&a.mu)
	if spec.Resources.CPU != "" || spec.Resources.Memory != "" {
		a.warnings = append(a.warnings, "limits are not enforced")
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Workdir
	cmd.Env = os.Environ()
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = a, a
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	if err := cmd.Start(); err != nil {
		return runtime.AgentInfo{}, err
	}
	a.cmd, a.stdin, a.started = cmd, stdin, time.Now()
	f.agents[spec.ID] = a
	if d := spec.Resources.Timeout; d > 0 {
		timer := time.AfterFunc(d, func() { a.signal(syscall.SIGKILL, "timeout") })
		defer func() { go func() { <-a.done; timer.Stop() }() }()
	}
	go func() {
		_ = cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		a.mu.Lock()
		st := runtime.ExitStatus{Code: ws.ExitStatus(), Reason: a.reason, ExitedAt: time.Now()}
		if ws.Signaled() {
			st.Code, st.Signal = -1, signalName(ws.Signal())
		}
		if st.Reason == "" {
			st.Reason = "exited"
		}
		a.exit = &st
		a.cond.Broadcast()
		a.mu.Unlock()
		close(a.done)
	}()
	return a.info(), nil
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("SIG%d", int(s))
}

func (f *fake) Attach(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := f.get(id)
	if err != nil {
		return nil, err
	}
	c := &fakeConn{a: a}
	context.AfterFunc(ctx, func() { c.Close() })
	return c, nil
}

type fakeConn struct {
	a      *fakeAgent
	off    int
	closed bool // guarded by a.mu
}

func (c *fakeConn) Read(p []byte) (int, error) {
	a := c.a
	a.mu.Lock()
	defer a.mu.Unlock()
	for c.off == len(a.out) && a.exit == nil && !c.closed {
		a.cond.Wait()
	}
	switch {
	case c.closed:
		return 0, os.ErrClosed
	case c.off < len(a.out):
		n := copy(p, a.out[c.off:])
		c.off += n
		return n, nil
	}
	return 0, io.EOF
}

func (c *fakeConn) Write(p []byte) (int, error) { return c.a.stdin.Write(p) }

func (c *fakeConn) Close() error {
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	c.closed = true
	c.a.cond.Broadcast()
	return nil
}

func (f *fake) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	a, err := f.get(id)
	if err != nil {
		return err
	}
	if opts.Force {
		a.signal(syscall.SIGKILL, "killed")
	} else {
		a.signal(syscall.SIGTERM, "stopped")
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		select {
		case <-a.done:
		case <-time.After(timeout):
			a.signal(syscall.SIGKILL, "killed")
		}
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	delete(f.agents, id)
	f.mu.Unlock()
	return nil
}

func (f *fake) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	a, err := f.get(id)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	select {
	case <-a.done:
		return *a.info().Exit, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (f *fake) Inspect(_ context.Context, id string) (runtime.AgentInfo, error) {
	a, err := f.get(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info(), nil
}

func (f *fake) List(context.Context) ([]runtime.AgentInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []runtime.AgentInfo
	for _, a := range f.agents {
		list = append(list, a.info())
	}
	return list, nil
}

// Recover returns every agent, as a runtime does for a host that
// reattached: the fake's agents die with it, so there is nothing to adopt.
func (f *fake) Recover(context.Context) ([]runtime.AgentInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []runtime.AgentInfo
	for _, a := range f.agents {
		info := a.info()
		info.Env = maps.Clone(a.spec.Env)
		list = append(list, info)
	}
	return list, nil
}

var (
	_ runtime.Runtime = (*fake)(nil)
	_ runtime.Adopter = (*fake)(nil)
)
