package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/runtime/configblock"
	"github.com/parallax/parallax/sdk/scrollback"
)

// Runtime runs agents as processes on a PTY. The agent table does the
// bookkeeping every runtime shares; what is left here is what makes this
// runtime this one: how a process starts, stops and resizes.
type Runtime struct {
	log    hclog.Logger
	cfg    config
	agents agenttable.Table[*agent]
}

// config is the runtime's config {} block.
type config struct {
	StopTimeout     time.Duration
	ScrollbackBytes int
}

func (c *config) attrs() []configblock.Attr {
	return []configblock.Attr{
		configblock.StopTimeout(&c.StopTimeout),
		configblock.ScrollbackBytes(&c.ScrollbackBytes),
	}
}

// New returns an unconfigured runtime that logs to log.
func New(log hclog.Logger) *Runtime { return &Runtime{log: log} }

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "skeleton",
		Version:         "0.1.0",
		DefaultPriority: 50,
		// Resize and Timeout are all this runtime offers beyond the core.
		Capabilities: runtime.Capabilities{Resize: true, Timeout: true},
		ConfigSchema: configblock.Schema(new(config).attrs()),
	}, nil
}

func (r *Runtime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	cfg := config{StopTimeout: configblock.DefaultStopTimeout, ScrollbackBytes: configblock.DefaultScrollbackBytes}
	if err := configblock.Decode(req.Config, cfg.attrs()); err != nil {
		return err
	}
	if r.agents.Ready() == nil {
		return errors.New("runtime already configured")
	}
	r.cfg = cfg
	r.agents.Open()
	return nil
}

func (r *Runtime) Health(context.Context) (runtime.Health, error) {
	if r.agents.Ready() != nil {
		return runtime.Health{Message: "not configured"}, nil
	}
	return runtime.Health{Healthy: true, ActiveAgents: r.agents.Active()}, nil
}

func (r *Runtime) Start(_ context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	if spec.ID == "" || len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return runtime.AgentInfo{}, fmt.Errorf("%w: give an agent id and a command (argv)", runtime.ErrInvalidSpec)
	}
	return r.agents.Start(spec.ID, func() (*agent, error) { return r.start(spec) })
}

func (r *Runtime) Attach(_ context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return nil, err
	}
	// Each attach reads from the oldest output kept, so the host can draw
	// the screen as it is; its writes are the agent's input.
	return a.out.NewConn(nil, a.Input(a.pty.Write)), nil
}

func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	return r.agents.Stop(id, func(a *agent) error {
		grace := cmp.Or(max(opts.Timeout, 0), r.cfg.StopTimeout)
		if err := a.terminate(ctx, !opts.Force, grace, "stopped"); err != nil {
			return err
		}
		return a.Release(ctx, a.pty.Close)
	})
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	return r.agents.Wait(ctx, id)
}

func (r *Runtime) Inspect(_ context.Context, id string) (runtime.AgentInfo, error) {
	return r.agents.Inspect(id)
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) { return r.agents.List() }

func (r *Runtime) Resize(_ context.Context, id string, size runtime.Size) error {
	return r.agents.Resize(id, size, func(a *agent) error {
		return pty.Setsize(a.pty, &pty.Winsize{Cols: size.Cols, Rows: size.Rows})
	})
}

// agent is one process and its terminal.
type agent struct {
	*agenttable.Agent
	cmd *exec.Cmd
	pty *os.File
	out *scrollback.Ring
}

func (r *Runtime) start(spec runtime.Spec) (*agent, error) {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Workdir
	cmd.Env = os.Environ()
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	size := &pty.Winsize{Cols: cmp.Or(spec.Size.Cols, 80), Rows: cmp.Or(spec.Size.Rows, 24)}
	// pty.Start makes the process a session leader, so that Stop can
	// signal its whole process group.
	tty, err := pty.StartWithSize(cmd, size)
	if err != nil {
		return nil, fmt.Errorf("%w: start %q: %v", runtime.ErrInvalidSpec, spec.Argv[0], err)
	}
	a := &agent{
		Agent: agenttable.NewAgent(spec.ID, r.log.With("agent", spec.ID)),
		cmd:   cmd, pty: tty, out: scrollback.NewRing(r.cfg.ScrollbackBytes),
	}
	a.PID, a.StartedAt, a.Labels = cmd.Process.Pid, time.Now(), maps.Clone(spec.Labels)
	if spec.Resources.CPU != "" || spec.Resources.Memory != "" {
		a.Warnings = append(a.Warnings, "the skeleton runtime enforces no cpu or memory limits")
	}
	if t := spec.Resources.Timeout; t > 0 {
		a.ArmDeadline(a.StartedAt.Add(t), func() error {
			return a.terminate(context.Background(), true, r.cfg.StopTimeout, "timeout")
		})
	}
	go a.follow()
	return a, nil
}

// follow copies the terminal's output into the ring, so the agent never
// blocks on a slow reader, and records the exit.
func (a *agent) follow() {
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		_, _ = io.Copy(a.out, a.pty) // ends with EIO once no process holds the terminal
	}()
	err := a.cmd.Wait()
	st := runtime.ExitStatus{Code: a.cmd.ProcessState.ExitCode(), ExitedAt: time.Now()}
	if ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		st.Code, st.Signal = -1, unix.SignalName(ws.Signal())
	} else if err != nil && st.Code == 0 {
		st.Code = -1
	}
	a.Exit(st)
	// A child left holding the terminal must not keep the output open.
	select {
	case <-pumped:
	case <-time.After(2 * time.Second):
	}
	a.out.Close()
	a.Drained()
}

// terminate sends SIGTERM to the process group, then SIGKILL after grace.
func (a *agent) terminate(ctx context.Context, graceful bool, grace time.Duration, reason string) error {
	return a.Terminate(ctx, graceful, grace, reason,
		func() { _ = syscall.Kill(-a.PID, syscall.SIGTERM) },
		func(context.Context) error {
			if err := syscall.Kill(-a.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return err
			}
			return nil
		})
}
