package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/scrollback"
	"golang.org/x/sys/unix"
)

// drainGrace and drainMax bound how long attached readers wait for output
// after the main process exited; see drain.
const (
	drainGrace = 100 * time.Millisecond
	drainMax   = 5 * time.Second
)

// agent is one running (or exited, not yet stopped) agent. Its PID is the
// main process's; its exit is recorded once cmd.Wait returned.
type agent struct {
	*agenttable.Agent
	name   string
	log    hclog.Logger
	cmd    *exec.Cmd
	ptmx   *os.File
	out    *scrollback.Ring
	cg     *agentCgroup
	marker []string // env entries that mark the agent's processes

	pumpDone chan struct{} // closed once the PTY reports the end

	mu     sync.Mutex // guards sample
	sample cpuSample
}

// run starts the goroutines that follow the agent: one copies PTY output
// into the ring, one reaps the main process.
func (a *agent) run() {
	go a.pump()
	go a.wait()
}

// pump reads the PTY continuously, so the agent never blocks on output no
// matter how slow or absent its readers are.
func (a *agent) pump() {
	defer close(a.pumpDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := a.ptmx.Read(buf)
		if n > 0 {
			a.out.Write(buf[:n])
		}
		if err != nil {
			return // EIO once no process holds the terminal; ErrClosed after Stop
		}
	}
}

func (a *agent) wait() {
	err := a.cmd.Wait()
	reaped(a.PID)
	st := runtime.ExitStatus{Code: -1, Reason: fmt.Sprintf("lost: %v", err), ExitedAt: time.Now()}
	if a.cmd.ProcessState != nil {
		st = exitStatus(a.cmd.ProcessState)
	}
	a.Exit(st)
	a.drain()
	a.out.Close()
	a.Drained()
}

// drain waits for the output the main process wrote before it exited. The
// PTY reports its end by itself once no process holds it; while a leftover
// process does, we wait until output stops coming for drainGrace, at most
// drainMax.
func (a *agent) drain() {
	deadline := time.After(drainMax)
	last := a.out.Written()
	for {
		select {
		case <-a.pumpDone:
			return
		case <-deadline:
			return
		case <-time.After(drainGrace):
			if now := a.out.Written(); now != last {
				last = now
				continue
			}
			// With no process left holding the terminal, the pump's EIO
			// is coming once it has read the rest; a pump slowed down
			// must not lose the agent's last words.
			if len(a.processes()) == 0 {
				continue
			}
			return
		}
	}
}

func exitStatus(ps *os.ProcessState) runtime.ExitStatus {
	st := runtime.ExitStatus{Code: ps.ExitCode(), ExitedAt: time.Now()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		st.Code = -1
		st.Signal = unix.SignalName(ws.Signal())
	}
	return st
}

// armDeadline stops the agent at deadline, gracefully.
func (a *agent) armDeadline(deadline time.Time, grace time.Duration) {
	a.ArmDeadline(deadline, func() error { return a.terminate(context.Background(), true, grace, "timeout") })
}

// terminate ends every process of the agent. Graceful sends SIGTERM to the
// process group and waits up to grace for the main process to exit; then,
// or at once when not graceful, every process left (including daemons that
// left the group) gets SIGKILL. It returns once all of them are gone.
func (a *agent) terminate(ctx context.Context, graceful bool, grace time.Duration, reason string) error {
	return a.Terminate(ctx, graceful, grace, reason, func() { _ = syscall.Kill(-a.PID, syscall.SIGTERM) }, a.killAll)
}

// killAll SIGKILLs every process of the agent until none is left.
func (a *agent) killAll(ctx context.Context) error {
	if !a.HasExited() {
		_ = syscall.Kill(-a.PID, syscall.SIGKILL)
	}
	if err := a.cg.kill(ctx); err != nil {
		return err
	}
	if a.cg != nil && a.cg.clone {
		return nil // nothing escapes a cgroup it was cloned into
	}
	return killMarked(ctx, a.marker, a.mainPid)
}

// mainPid is the main process's pid while it is ours; once reaped, the
// number may belong to someone else.
func (a *agent) mainPid() int {
	if a.HasExited() {
		return 0
	}
	return a.PID
}

// processes lists the agent's live processes.
func (a *agent) processes() []procStat {
	var ps []procStat
	seen := make(map[int]bool)
	add := func(p procStat) {
		if p.alive() && !seen[p.pid] {
			seen[p.pid] = true
			ps = append(ps, p)
		}
	}
	for _, pid := range a.cg.procs() {
		if p, ok := readProcStat(pid); ok {
			add(p)
		}
	}
	if a.cg != nil && a.cg.clone {
		return ps
	}
	for _, p := range markedProcs(a.marker, a.mainPid()) {
		add(p)
	}
	return ps
}

// release frees what the agent holds once its processes are gone. What
// it printed last may still be in the PTY; with every process gone, the
// pump gets it and EIO at once.
func (a *agent) release(ctx context.Context) error {
	return a.Release(ctx, func() error {
		_ = a.ptmx.Close()
		a.out.Close()
		return a.cg.remove(ctx)
	})
}

// resize sets the terminal size. It goes through SyscallConn because
// File.Fd would switch the master to blocking mode, after which Close no
// longer interrupts the pump's Read.
func (a *agent) resize(size runtime.Size) error {
	sc, err := a.ptmx.SyscallConn()
	if err != nil {
		return err
	}
	return setWinsize(sc, size)
}

func setWinsize(sc syscall.RawConn, size runtime.Size) error {
	var ioErr error
	err := sc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
	})
	if err != nil {
		return err
	}
	return ioErr
}

// attach returns a new reader of the agent's output, starting at the
// oldest byte the ring still holds, whose writes are the agent's input.
func (a *agent) attach() *scrollback.Conn {
	return a.out.NewConn(func(n int64) {
		a.log.Debug("slow reader skipped output", "bytes", n)
	}, a.Input(a.ptmx.Write))
}
