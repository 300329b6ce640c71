package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/scrollback"
	"golang.org/x/sys/unix"
)

// drainGrace and drainMax bound how long attached readers wait for output
// after the main process exited; see drain.
const (
	drainGrace = 100 * time.Millisecond
	drainMax   = 5 * time.Second
)

// agent is one running (or exited, not yet stopped) agent.
type agent struct {
	id, name  string
	log       hclog.Logger
	cmd       *exec.Cmd
	pid       int
	ptmx      *os.File
	out       *scrollback.Ring
	cg        *agentCgroup
	marker    []string // env entries that mark the agent's processes
	startedAt time.Time
	labels    map[string]string
	warnings  []string
	timer     *time.Timer

	exited   chan struct{} // closed once cmd.Wait returned
	pumpDone chan struct{} // closed once the PTY reports the end
	drained  chan struct{} // closed once readers may get EOF

	// stopMu serialises ending the agent: by timeout, Stop, or both.
	stopMu   sync.Mutex
	released bool

	mu     sync.Mutex
	exit   *runtime.ExitStatus
	reason string // why we are ending it; "" while nobody is
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
	reaped(a.pid)
	st := runtime.ExitStatus{Code: -1, Reason: fmt.Sprintf("lost: %v", err), ExitedAt: time.Now()}
	if a.cmd.ProcessState != nil {
		st = exitStatus(a.cmd.ProcessState)
	}
	a.mu.Lock()
	if st.Reason == "" {
		st.Reason = cmp.Or(a.reason, "exited")
	}
	a.exit = &st
	a.mu.Unlock()
	close(a.exited)
	if a.timer != nil {
		a.timer.Stop()
	}
	a.log.Debug("agent exited", "code", st.Code, "signal", st.Signal, "reason", st.Reason)

	a.drain()
	a.out.Close()
	close(a.drained)
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

func (a *agent) hasExited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

func (a *agent) info() runtime.AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := runtime.AgentInfo{
		ID:        a.id,
		State:     runtime.StateRunning,
		PID:       a.pid,
		StartedAt: a.startedAt,
		Labels:    maps.Clone(a.labels),
		Warnings:  append([]string(nil), a.warnings...),
	}
	if a.exit != nil {
		exit := *a.exit
		info.State, info.Exit = runtime.StateExited, &exit
	}
	return info
}

// setReason records why we end the agent, unless it already ended. A
// timeout stays a timeout even when it has to escalate to SIGKILL.
func (a *agent) setReason(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exit == nil && a.reason != "timeout" {
		a.reason = reason
	}
}

// terminate ends every process of the agent. Graceful sends SIGTERM to the
// process group and waits up to grace for the main process to exit; then,
// or at once when not graceful, every process left (including daemons that
// left the group) gets SIGKILL. It returns once all of them are gone.
func (a *agent) terminate(ctx context.Context, graceful bool, grace time.Duration, reason string) error {
	a.stopMu.Lock()
	defer a.stopMu.Unlock()
	if !a.hasExited() {
		if graceful {
			a.setReason(reason)
			_ = syscall.Kill(-a.pid, syscall.SIGTERM)
			t := time.NewTimer(grace)
			select {
			case <-a.exited:
			case <-t.C:
			case <-ctx.Done():
				// Leaving processes behind is worse than not waiting: kill.
			}
			t.Stop()
		}
		if !a.hasExited() {
			if reason == "timeout" {
				a.setReason(reason)
			} else {
				a.setReason("killed")
			}
		}
	}
	// Own deadline: a caller that gave up must not leave half-killed agents.
	kctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.killAll(kctx); err != nil {
		return err
	}
	select {
	case <-a.exited:
		return nil
	case <-kctx.Done():
		return errors.New("main process did not exit after SIGKILL")
	}
}

// killAll SIGKILLs every process of the agent until none is left.
func (a *agent) killAll(ctx context.Context) error {
	if !a.hasExited() {
		_ = syscall.Kill(-a.pid, syscall.SIGKILL)
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
	if a.hasExited() {
		return 0
	}
	return a.pid
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

// stats reports usage over all the agent's processes. CPU is the share used
// since the previous call, or since the start on the first call, so the
// first call needs no second sample and returns at once.
func (a *agent) stats() runtime.Stats {
	procs := a.processes()
	var st runtime.Stats
	var ticks uint64
	for _, p := range procs {
		st.MemoryBytes += p.rssPages * pageSize
		ticks += p.cpuTicks
	}
	st.Processes = len(procs)
	cur := cpuSample{usec: ticks * 1e6 / clockTicks, at: time.Now()}
	if a.cg != nil && a.cg.clone {
		if usec, ok := cgroupCPUUsec(a.cg.track); ok {
			cur.usec = usec
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.sample
	if prev.at.IsZero() {
		prev = cpuSample{at: a.startedAt}
	}
	a.sample = cur
	st.CPUPercent = cpuPercent(prev, cur)
	end := cur.at
	if a.exit != nil {
		end = a.exit.ExitedAt
	}
	st.Uptime = end.Sub(a.startedAt)
	return st
}

// release frees what the agent holds once its processes are gone.
func (a *agent) release(ctx context.Context) error {
	a.stopMu.Lock()
	defer a.stopMu.Unlock()
	if a.released {
		return nil
	}
	a.released = true
	if a.timer != nil {
		a.timer.Stop()
	}
	// What the agent printed last (a TERM trap's goodbye) may still be in
	// the PTY; with every process gone, the pump gets it and EIO at once.
	select {
	case <-a.drained:
	case <-ctx.Done():
	}
	_ = a.ptmx.Close()
	a.out.Close()
	return a.cg.remove(ctx)
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
	}, a.input)
}

// input writes p to the agent's terminal.
func (a *agent) input(p []byte) (int, error) {
	if a.hasExited() {
		return 0, errors.New("agent exited")
	}
	return a.ptmx.Write(p)
}
