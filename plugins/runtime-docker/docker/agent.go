package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/scrollback"
)

const (
	// drainMax bounds how long readers wait, after the container exited,
	// for the rest of its output to come through the attach stream.
	drainMax = 5 * time.Second
	// engineCall bounds calls that clean up after an agent; they run on
	// their own deadline so a caller that gave up can't leave a container
	// half-removed.
	engineCall = time.Minute
)

// agent is one container: running, or exited and not yet stopped. Its
// exit is recorded once the engine reports it.
type agent struct {
	*agenttable.Agent
	container string // the engine's container id
	log       hclog.Logger
	cli       *client.Client
	out       *scrollback.Ring

	// ctx lives as long as the agent; cancelling it ends the engine calls
	// that follow the container.
	ctx    context.Context
	cancel context.CancelFunc

	// stream is the attach connection: output comes out of it, input goes
	// in. It is opened before the container starts.
	stream  client.HijackedResponse
	waitRes client.ContainerWaitResult
	writeMu sync.Mutex

	pumpDone chan struct{} // closed once the attach stream ended

	removeOnce sync.Once
	removeErr  error

	mu     sync.Mutex // guards sample
	sample cpuSample
}

func newAgent(log hclog.Logger, cli *client.Client, id, containerID string, scrollbackBytes int) *agent {
	ctx, cancel := context.WithCancel(context.Background())
	log = log.With("agent", id, "container", shortID(containerID))
	return &agent{
		Agent:     agenttable.NewAgent(id, log),
		container: containerID,
		log:       log,
		cli:       cli,
		out:       scrollback.NewRing(scrollbackBytes),
		ctx:       ctx,
		cancel:    cancel,
		pumpDone:  make(chan struct{}),
	}
}

// connect opens the attach stream and the engine's wait for cond. Only
// after both may the container start: output and exit are then certain to
// reach us.
func (a *agent) connect(ctx context.Context, cond container.WaitCondition) error {
	stream, err := a.cli.ContainerAttach(ctx, a.container, client.ContainerAttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	a.stream = stream.HijackedResponse
	// ContainerWait returns once the engine acknowledged the wait, so a
	// start that follows can't outrun it.
	a.waitRes = a.cli.ContainerWait(a.ctx, a.container, client.ContainerWaitOptions{Condition: cond})
	return nil
}

// follow starts the goroutines that follow a connected, started container:
// one copies its output into the ring, one waits for its exit.
func (a *agent) follow() {
	go a.pump()
	go a.watch()
}

// pump reads the attach stream continuously, so the container never
// blocks on output however slow or absent its readers are.
func (a *agent) pump() {
	defer close(a.pumpDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := a.stream.Reader.Read(buf)
		if n > 0 {
			a.out.Write(buf[:n])
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && a.ctx.Err() == nil {
				a.log.Warn("attach stream broke; output from now on is lost", "error", err)
			}
			return
		}
	}
}

// watch waits for the exit, records it, lets readers drain, and removes
// the container: its output and status are ours by then.
func (a *agent) watch() {
	a.Exit(a.awaitExit())
	select {
	case <-a.pumpDone:
	case <-time.After(drainMax):
		a.log.Warn("attach stream still open after the container exited; ending it")
	}
	a.out.Close()
	a.Drained()
	if err := a.remove(); err != nil {
		a.log.Warn("cannot remove exited container", "error", err)
	}
}

// awaitExit blocks until the container is not running and says how it
// ended. The engine's wait can end early (a restarted engine, a dropped
// connection); then we look at the container and wait again if it runs.
func (a *agent) awaitExit() runtime.ExitStatus {
	res := a.waitRes
	for {
		var waitErr error
		select {
		case <-res.Result:
		case waitErr = <-res.Error:
		}
		if a.ctx.Err() != nil {
			// Released, or the plugin shuts down: nobody waits any more.
			return runtime.ExitStatus{Code: -1, Reason: "lost: released while its exit was unknown", ExitedAt: time.Now()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), engineCall)
		got, err := a.cli.ContainerInspect(ctx, a.container, client.ContainerInspectOptions{})
		cancel()
		switch {
		case cerrdefs.IsNotFound(err):
			return runtime.ExitStatus{Code: -1, Reason: "lost: its container was removed by someone else", ExitedAt: time.Now()}
		case err != nil:
			a.log.Warn("cannot inspect container after its wait ended; waiting again", "wait_error", waitErr, "error", err)
			time.Sleep(time.Second)
		case got.Container.State != nil && !got.Container.State.Running:
			return exitStatus(got.Container.State)
		}
		res = a.cli.ContainerWait(a.ctx, a.container, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	}
}

// armDeadline stops the agent at deadline, gracefully.
func (a *agent) armDeadline(deadline time.Time, grace time.Duration) {
	a.ArmDeadline(deadline, func() error { return a.terminate(context.Background(), true, grace, "timeout") })
}

// terminate ends the container. Graceful sends SIGTERM (to the init, which
// passes it on) and waits up to grace; then, or at once when not graceful,
// SIGKILL. It returns once the exit is known.
func (a *agent) terminate(ctx context.Context, graceful bool, grace time.Duration, reason string) error {
	return a.Terminate(ctx, graceful, grace, reason, func() { a.signal("SIGTERM") }, func(context.Context) error {
		if !a.HasExited() {
			a.signal("SIGKILL")
		}
		return nil
	})
}

// signal sends sig to the container. A container that exited meanwhile
// refuses it, which is fine: the exit is what we wanted.
func (a *agent) signal(sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), engineCall)
	defer cancel()
	if _, err := a.cli.ContainerKill(ctx, a.container, client.ContainerKillOptions{Signal: sig}); err != nil && !a.HasExited() {
		a.log.Debug("signal not delivered", "signal", sig, "error", err)
	}
}

// release frees what the agent holds once its container exited: the
// stream, the engine calls, the container.
func (a *agent) release(ctx context.Context) error {
	return a.Release(ctx, func() error {
		err := a.remove()
		a.stream.Close()
		a.cancel()
		a.out.Close()
		return err
	})
}

// discard undoes a launch that failed half-way.
func (a *agent) discard() {
	if a.stream.Conn != nil {
		a.stream.Close()
	}
	a.cancel()
	a.out.Close()
	if err := a.remove(); err != nil {
		a.log.Warn("cannot remove the container of a failed start", "error", err)
	}
}

// remove removes the container, once; later calls return the first one's
// result. Force, because a container that didn't exit must not stay.
func (a *agent) remove() error {
	a.removeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), engineCall)
		defer cancel()
		_, err := a.cli.ContainerRemove(ctx, a.container, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			a.removeErr = fmt.Errorf("remove container %s: %w", shortID(a.container), err)
		}
	})
	return a.removeErr
}

func (a *agent) resize(ctx context.Context, size runtime.Size) error {
	if a.HasExited() {
		return nil
	}
	_, err := a.cli.ContainerResize(ctx, a.container, client.ContainerResizeOptions{Height: uint(size.Rows), Width: uint(size.Cols)})
	if err != nil && a.HasExited() {
		return nil
	}
	return err
}

// resizeRetrying sets the size right after the start. The engine can
// refuse it while the container's TTY is still being set up, so it tries
// again for up to a second.
func (a *agent) resizeRetrying(ctx context.Context, size runtime.Size) error {
	var err error
	delay := 10 * time.Millisecond
	for range 8 {
		if err = a.resize(ctx, size); err == nil {
			return nil
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
		delay *= 2
	}
	return err
}

// attach returns a new reader of the agent's output, starting at the
// oldest byte the ring still holds, whose writes are the agent's input.
func (a *agent) attach() *scrollback.Conn {
	return a.out.NewConn(func(n int64) {
		a.log.Debug("slow reader skipped output", "bytes", n)
	}, a.Input(a.write))
}

func (a *agent) write(p []byte) (int, error) {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	return a.stream.Conn.Write(p)
}

// exitStatus reads how a container ended. The engine reports a process
// killed by signal N as exit code 128+N, as a shell does; we report it as
// the signal. A program that itself exits with such a code reads the same,
// which is the engine's ambiguity, not ours.
func exitStatus(st *container.State) runtime.ExitStatus {
	out := runtime.ExitStatus{Code: st.ExitCode, ExitedAt: time.Now()}
	if t, err := time.Parse(time.RFC3339Nano, st.FinishedAt); err == nil && t.Year() > 1 {
		out.ExitedAt = t
	}
	if name, ok := signalNames[st.ExitCode-128]; ok && st.ExitCode > 128 {
		out.Code, out.Signal = -1, name
	}
	if st.OOMKilled {
		out.Reason = "out of memory: the agent went over its memory limit"
	}
	return out
}

// signalNames are Linux's, whatever the plugin's own OS: containers run on
// Linux.
var signalNames = map[int]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
	8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
	14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
	20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
	26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}
