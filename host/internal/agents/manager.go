package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/sdk/runtime"
)

// Runtimes is what the manager needs of the runtime plugins.
type Runtimes interface {
	Candidates(name string) ([]runtimes.Candidate, error)
	Get(name string) (runtimes.Plugin, error)
	Kick(name string)
}

// ErrNotFound means no agent has the id.
var ErrNotFound = errors.New("agent not found")

// SpawnError is a spawn that every candidate runtime refused.
type SpawnError struct {
	// Invalid is set when every runtime called the spec invalid, so the
	// request is at fault rather than the runtimes.
	Invalid bool
	Msg     string
}

func (e *SpawnError) Error() string { return e.Msg }

// outputBytes bounds the output kept per agent.
const outputBytes = 256 << 10

// DefaultStopTimeout is how long a graceful stop waits before it kills.
const DefaultStopTimeout = 10 * time.Second

// Manager keeps the managed agents.
type Manager struct {
	log hclog.Logger
	rts Runtimes

	mu     sync.RWMutex
	agents map[string]*agent
	wg     sync.WaitGroup // watchers
}

// NewManager returns a Manager that spawns on rts.
func NewManager(log hclog.Logger, rts Runtimes) *Manager {
	return &Manager{log: log, rts: rts, agents: map[string]*agent{}}
}

// Spawn starts an agent and returns once its process runs.
func (m *Manager) Spawn(ctx context.Context, req SpawnRequest) (View, error) {
	if err := req.validate(); err != nil {
		return View{}, err
	}
	cands, err := m.rts.Candidates(req.Runtime)
	if err != nil {
		if errors.Is(err, runtimes.ErrUnknownRuntime) {
			return View{}, &InputError{"runtime", err.Error()}
		}
		return View{}, err
	}

	id := newID()
	if req.Name == "" {
		req.Name = req.Type + "-" + id[:6]
	}
	a := &agent{
		id: id, name: req.Name, typ: req.Type, createdAt: time.Now().UTC(),
		workdir: req.Workdir, command: req.Command, output: newRing(outputBytes),
		exited: make(chan struct{}), status: StatusStarting,
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	m.mu.Lock()
	m.agents[id] = a
	m.mu.Unlock()

	spec := req.spec(id)
	var failures []string
	invalid := true
	for _, c := range cands {
		info, err := c.Plugin.Start(ctx, spec)
		if err != nil {
			m.log.Warn("spawn failed", "agent", id, "runtime", c.Name, "error", err)
			failures = append(failures, fmt.Sprintf("%s: %v", c.Name, err))
			invalid = invalid && errors.Is(err, runtime.ErrInvalidSpec)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		a.mu.Lock()
		a.runtime, a.warnings = c.Name, info.Warnings
		// A custom agent is ready once its process runs.
		a.status = StatusReady
		a.mu.Unlock()
		m.log.Info("agent started", "agent", id, "name", req.Name, "runtime", c.Name, "pid", info.PID)
		m.watch(a, c.Plugin)
		return a.view(), nil
	}

	m.remove(a)
	return View{}, &SpawnError{Invalid: invalid, Msg: "no runtime could start the agent: " + strings.Join(failures, "; ")}
}

// watch drains a's output and follows its process until it ends.
func (m *Manager) watch(a *agent, p runtimes.Plugin) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		drained := make(chan struct{})
		if conn, err := p.Attach(a.ctx, a.id); err == nil {
			go func() {
				defer close(drained)
				defer conn.Close()
				_, _ = io.Copy(a.output, conn)
			}()
			go func() {
				<-a.ctx.Done()
				conn.Close()
			}()
		} else {
			close(drained)
			m.log.Warn("attaching to agent failed; its output is lost", "agent", a.id, "error", err)
		}
		st, err := p.Wait(a.ctx, a.id)
		if a.ctx.Err() != nil {
			return
		}
		if err != nil && errors.Is(err, runtime.ErrNotFound) && a.isStopping() {
			// Our Stop released the agent before this Wait reached the
			// runtime: it ended as asked, how exactly is gone.
			m.finished(a, runtime.ExitStatus{Code: -1, Reason: "stopped", ExitedAt: time.Now()})
			return
		}
		if err != nil {
			m.lost(a, fmt.Sprintf("lost the agent: waiting on runtime %q failed: %v", a.runtimeName(), err))
			m.rts.Kick(a.runtimeName())
			return
		}
		// The exit can overtake the last output; the error message wants it.
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		m.finished(a, st)
		// Release what the runtime still holds for the exited agent.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx, a.id, runtime.StopOptions{Force: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			m.log.Warn("releasing an exited agent failed", "agent", a.id, "error", err)
		}
	}()
}

func (a *agent) isStopping() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stopping
}

func (a *agent) runtimeName() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runtime
}

// finished records how a's process ended.
func (m *Manager) finished(a *agent, st runtime.ExitStatus) {
	a.mu.Lock()
	a.exit = &st
	switch {
	case a.stopping, st.Code == 0 && st.Signal == "":
		a.status, a.errMsg = StatusStopped, ""
	case st.Reason == "timeout":
		a.status, a.errMsg = StatusStopped, "stopped: reached its timeout"
	default:
		a.status, a.errMsg = StatusError, exitMessage(st, a.output.Bytes())
	}
	status, errMsg := a.status, a.errMsg
	a.mu.Unlock()
	a.markExited()
	m.log.Info("agent exited", "agent", a.id, "status", status, "code", st.Code, "signal", st.Signal,
		"reason", st.Reason, "error", errMsg)
}

// exitMessage says why an agent ended badly, with its last line of output,
// which usually says why.
func exitMessage(st runtime.ExitStatus, output []byte) string {
	msg := fmt.Sprintf("process exited with code %d", st.Code)
	if st.Signal != "" {
		msg = "process was killed by " + st.Signal
	}
	if line := lastLine(output); line != "" {
		msg += ": " + line
	}
	return msg
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(stripEscapes(string(b))), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// stripEscapes drops terminal escape sequences and carriage returns; enough
// for an error message, not a terminal emulator.
func stripEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		case c == 0x1b && i+1 < len(s) && s[i+1] == ']':
			for i < len(s) && s[i] != 0x07 && !(s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\') {
				i++
			}
		case c == '\r':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// lost marks a as lost with its runtime.
func (m *Manager) lost(a *agent, reason string) {
	a.mu.Lock()
	if !a.status.live() {
		a.mu.Unlock()
		return
	}
	a.status, a.errMsg = StatusError, reason
	a.mu.Unlock()
	a.markExited()
	m.log.Error("agent lost", "agent", a.id, "reason", reason)
}

// RuntimeLost marks every live agent of the named runtime as lost. The
// runtimes manager calls it when a plugin died.
func (m *Manager) RuntimeLost(runtimeName, reason string) {
	for _, a := range m.all() {
		if st, rt := a.snapshot(); rt == runtimeName && st.live() {
			m.lost(a, reason+"; the agent was lost with it")
		}
	}
}

// Adopt takes over agents a runtime still runs from before its restart.
func (m *Manager) Adopt(runtimeName string, infos []runtime.AgentInfo) {
	if len(infos) == 0 {
		return
	}
	p, err := m.rts.Get(runtimeName)
	if err != nil {
		m.log.Error("cannot adopt agents", "runtime", runtimeName, "error", err)
		return
	}
	for _, info := range infos {
		if info.State != runtime.StateRunning {
			continue
		}
		m.mu.Lock()
		old := m.agents[info.ID]
		a := &agent{
			id: info.ID, name: info.Labels[LabelName], typ: info.Labels[LabelType],
			createdAt: info.StartedAt, output: newRing(outputBytes), exited: make(chan struct{}),
			runtime: runtimeName, status: StatusReady, warnings: info.Warnings,
		}
		if old != nil {
			old.cancel()
			a.createdAt, a.workdir, a.command, a.output = old.createdAt, old.workdir, old.command, old.output
		}
		a.ctx, a.cancel = context.WithCancel(context.Background())
		m.agents[info.ID] = a
		m.mu.Unlock()
		m.log.Info("adopted agent", "agent", info.ID, "runtime", runtimeName)
		m.watch(a, p)
	}
}

// Get returns one agent.
func (m *Manager) Get(id string) (View, error) {
	m.mu.RLock()
	a := m.agents[id]
	m.mu.RUnlock()
	if a == nil {
		return View{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return a.view(), nil
}

// List returns every agent, oldest first.
func (m *Manager) List() []View {
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

// StopOptions control Delete.
type StopOptions struct {
	Force   bool
	Timeout time.Duration // 0 means DefaultStopTimeout
}

// Delete stops an agent and forgets it. It returns the agent's last view.
func (m *Manager) Delete(ctx context.Context, id string, opts StopOptions) (View, error) {
	m.mu.RLock()
	a := m.agents[id]
	m.mu.RUnlock()
	if a == nil {
		return View{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := m.stop(ctx, a, opts); err != nil {
		return a.view(), err
	}
	m.remove(a)
	return a.view(), nil
}

// stop ends a's process through its runtime and waits until it exited.
func (m *Manager) stop(ctx context.Context, a *agent, opts StopOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultStopTimeout
	}
	a.mu.Lock()
	live := a.status.live()
	a.stopping = true
	rtName := a.runtime
	a.mu.Unlock()
	if !live {
		return nil
	}
	p, err := m.rts.Get(rtName)
	if err != nil {
		return fmt.Errorf("stopping agent %s: %w", a.id, err)
	}
	err = p.Stop(ctx, a.id, runtime.StopOptions{Force: opts.Force, Timeout: opts.Timeout})
	if errors.Is(err, runtime.ErrNotFound) {
		// The runtime no longer has it: it is gone either way.
		m.lost(a, "the runtime no longer knows this agent")
		return nil
	}
	if err != nil {
		m.rts.Kick(rtName)
		return fmt.Errorf("stopping agent %s on runtime %q: %w", a.id, rtName, err)
	}
	select {
	case <-a.exited:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.log.Info("agent stopped", "agent", a.id, "force", opts.Force)
	return nil
}

func (m *Manager) remove(a *agent) {
	m.mu.Lock()
	if m.agents[a.id] == a {
		delete(m.agents, a.id)
	}
	m.mu.Unlock()
	a.cancel()
}

// Shutdown stops every live agent, in parallel, and waits for them.
func (m *Manager) Shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range m.all() {
		if st, _ := a.snapshot(); !st.live() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.stop(ctx, a, StopOptions{}); err != nil {
				m.log.Error("stopping agent at shutdown failed", "agent", a.id, "error", err)
			}
		}()
	}
	wg.Wait()
	for _, a := range m.all() {
		a.cancel()
	}
	m.wg.Wait()
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
