package agents

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
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
// is in data: the agent's own and any other live agent's.
func (m *Manager) publish(a *agent, typ string, data map[string]any) {
	masked, _ := m.opts.Secrets.Value(redact.Value(data, a.secrets)).(map[string]any)
	m.opts.Bus.Publish(events.Event{Event: typ, AgentID: a.id, Data: masked})
}

// agentSecrets are the secrets of an agent started with creds and env:
// its credentials, and the values of every env var the CLIs read one from.
func agentSecrets(creds adapter.Credentials, env ...map[string]string) []string {
	out := creds.Secrets()
	for _, e := range env {
		out = append(out, adapter.CredentialsFromEnv(e).Secrets()...)
	}
	return out
}

// Spawn starts an agent and returns once its process runs.
func (m *Manager) Spawn(ctx context.Context, req SpawnRequest) (View, error) {
	if err := req.validate(m.opts.AllowedWorkdirs); err != nil {
		return View{}, err
	}
	if err := m.opts.Policy.check(req); err != nil {
		return View{}, err
	}
	began := time.Now()
	cands, err := m.rts.Candidates(req.Runtime)
	if err != nil {
		if errors.Is(err, runtimes.ErrUnknownRuntime) {
			return View{}, &InputError{"runtime", err.Error()}
		}
		return View{}, err
	}
	if v, ok := m.pools.take(req, cands); ok {
		if m.opts.OnSpawn != nil {
			m.opts.OnSpawn(req.Type, v.Runtime, time.Since(began), nil)
		}
		return v, nil
	}

	id := newID()
	if req.Name == "" {
		req.Name = req.Type + "-" + id[:6]
	}
	v, err := m.start(ctx, id, time.Now().UTC(), req, cands, nil)
	if m.opts.OnSpawn != nil {
		m.opts.OnSpawn(req.Type, v.Runtime, time.Since(began), err)
	}
	return v, err
}

// start prepares and starts agent id on the first candidate runtime that
// takes it, into warm pool p unless p is nil.
func (m *Manager) start(ctx context.Context, id string, createdAt time.Time, req SpawnRequest, cands []runtimes.Candidate, p *pool) (View, error) {
	ad, _ := adapter.For(req.Type)
	at := m.opts.AgentType(req.Type)
	a := &agent{
		id: id, name: req.Name, typ: req.Type, createdAt: createdAt,
		capabilities: req.Capabilities, role: req.Role,
		workdir: req.Workdir, command: req.Command, output: newRing(outputBytes),
		exited: make(chan struct{}), status: StatusStarting, req: req,
		adapter: ad, startTimeout: at.StartTimeout, secrets: agentSecrets(req.Credentials, at.Env, req.Env),
		watchers: map[*Watcher]struct{}{}, pool: p,
	}
	a.release = m.opts.Secrets.Hold(a.secrets)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	m.mu.Lock()
	// Stopped agents count: each keeps its output until it is deleted.
	if max := m.opts.MaxAgents; max > 0 && len(m.agents) >= max && m.agents[id] == nil {
		m.mu.Unlock()
		a.releaseSecrets()
		return View{}, &LimitError{Setting: "server.max_agents", Limit: max, What: "agents, stopped ones included until deleted"}
	}
	m.agents[id] = a
	m.mu.Unlock()

	var failures []string
	invalid := true
	for _, c := range cands {
		// Each runtime may show the agent its home and workdir at other
		// paths, and the pre-seeded files name them.
		workdir, err := m.workdir(a, req, c.Info.AgentPaths)
		if err != nil {
			m.remove(a)
			return View{}, err
		}
		launch, err := m.prepare(a, req, at, c.Info.AgentPaths, workdir)
		if err != nil {
			m.remove(a)
			return View{}, err
		}
		spec := req.spec(id, launch)
		spec.Home = a.home
		if c.Info.AgentPaths.Workdir == "" {
			// The agent sees the host's paths: the request's or its scratch one.
			spec.Workdir = workdir
		}
		info, err := c.Plugin.Start(ctx, spec)
		if err != nil {
			m.log.Warn("spawn failed", "agent", id, "runtime", c.Name, "error", a.redact(err.Error()))
			failures = append(failures, fmt.Sprintf("%s: %s", c.Name, a.redact(err.Error())))
			invalid = invalid && errors.Is(err, runtime.ErrInvalidSpec)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		a.mu.Lock()
		a.runtime, a.warnings = c.Name, info.Warnings
		if a.workdir == "" && spec.Workdir != "" {
			a.workdir = spec.Workdir
		}
		a.mu.Unlock()
		if copied(c.Info.AgentPaths, workdir, a) {
			// The runtime has its copy of the home, keys included: the
			// host's may go now rather than when the agent ends.
			m.removeDir(a)
		}
		m.log.Info("agent started", "agent", id, "name", req.Name, "type", req.Type, "runtime", c.Name, "pid", info.PID, "pooled", p != nil)
		if err := m.attach(a, c.Plugin); err != nil {
			m.log.Warn("attaching to agent failed", "agent", id, "error", err)
		}
		m.publish(a, "agent_started", map[string]any{"name": req.Name, "type": req.Type, "runtime": c.Name, "pooled": p != nil})
		return a.view(), nil
	}

	m.remove(a)
	return View{}, &SpawnError{Invalid: invalid, Msg: "no runtime could start the agent: " + strings.Join(failures, "; ")}
}

// workdir is where the agent works as it sees it: the runtime's own
// workdir path when it has one; else the request's; else, with a data
// dir, a scratch directory of the agent's own (removed with it), so that
// the CLI isn't started in whatever directory the runtime happens to be
// in, and its trust can be pre-seeded.
func (m *Manager) workdir(a *agent, req SpawnRequest, paths runtime.AgentPaths) (string, error) {
	switch {
	case paths.Workdir != "":
		return paths.Workdir, nil
	case req.Workdir != "" || m.opts.DataDir == "":
		return req.Workdir, nil
	}
	dir := filepath.Join(m.agentDir(a), "work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("making the agent's scratch workdir: %w", err)
	}
	return dir, nil
}

// agentDir is the agent's directory in the data dir: its private home and
// scratch workdir, removed when it ends.
func (m *Manager) agentDir(a *agent) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dir = m.dirOf(a.id)
	return a.dir
}

func (m *Manager) dirOf(id string) string {
	if m.opts.DataDir == "" {
		return ""
	}
	return filepath.Join(m.opts.DataDir, "agents", id)
}

// copied reports whether nothing in a's directory is read from the host
// once a runs: its runtime copied the home into the agent's own
// filesystem (paths.Home) and workdir is not a scratch one in it.
func copied(paths runtime.AgentPaths, workdir string, a *agent) bool {
	a.mu.Lock()
	dir := a.dir
	a.mu.Unlock()
	if paths.Home == "" || dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, workdir)
	inDir := err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	return workdir == "" || !inDir
}

// removeDir removes a's directory, unless a newer agent of the same id (a
// restart with new credentials) owns it by now. The check and removal run
// under m.mu, which a new agent takes to register before it makes its
// directory, so a late removal never takes the new agent's.
func (m *Manager) removeDir(a *agent) {
	a.mu.Lock()
	dir := a.dir
	a.mu.Unlock()
	if dir == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.agents[a.id]; cur != nil && cur != a {
		return
	}
	// The home holds the agent's keys, so it goes once the agent
	// ended, and its scratch workdir with it.
	if err := os.RemoveAll(dir); err != nil {
		m.log.Warn("removing the agent's directory failed", "agent", a.id, "error", err)
	}
}

// SweepDirs removes every agent directory in the data dir that belongs to
// no live agent: what a host killed before it could clean up left. Run it
// once the runtimes adopted their agents, before any spawn.
func (m *Manager) SweepDirs() {
	if m.opts.DataDir == "" {
		return
	}
	root := filepath.Join(m.opts.DataDir, "agents")
	entries, err := os.ReadDir(root)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("sweeping agent directories failed", "error", err)
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		if a := m.agents[e.Name()]; a != nil {
			if st, _ := a.snapshot(); st.live() {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			m.log.Warn("removing a left-over agent directory failed", "agent", e.Name(), "error", err)
			continue
		}
		m.log.Info("removed the directory of an agent that is gone", "agent", e.Name())
	}
}

// prepare makes the agent's private home, pre-seeds it and builds the argv
// and env, for a runtime whose agents see their home at paths.Home and
// their workdir at workdir.
func (m *Manager) prepare(a *agent, req SpawnRequest, at config.AgentType, paths runtime.AgentPaths, workdir string) (adapter.Launch, error) {
	approval := at.Approval
	if req.Approval != "" {
		approval = req.Approval
	}
	env := map[string]string{}
	maps.Copy(env, at.Env)
	maps.Copy(env, req.Env)
	opts := adapter.LaunchOptions{
		Command: at.Command, Approval: approval, ExtraArgs: at.Args, Workdir: workdir,
		Credentials: req.Credentials, Env: env,
	}
	// A request's command wins over the type's; for custom it is required.
	if len(req.Command) > 0 {
		opts.Command = req.Command
	}
	if at.Preseed && req.Type != "custom" && m.opts.DataDir != "" {
		a.home = filepath.Join(m.agentDir(a), "home")
		if err := os.MkdirAll(a.home, 0o700); err != nil {
			return adapter.Launch{}, fmt.Errorf("making the agent's home: %w", err)
		}
		opts.Home, opts.SeedDir = cmp.Or(paths.Home, a.home), a.home
		// A key in the agent type's env is the operator's, so it is
		// approved in advance like a request's credentials; a key in a
		// request's env is not.
		seed := opts
		seed.Credentials = opts.Credentials.Or(adapter.CredentialsFromEnv(at.Env))
		if err := a.adapter.Preseed(seed); err != nil {
			return adapter.Launch{}, fmt.Errorf("pre-seeding the agent's home: %s", a.redact(err.Error()))
		}
	}
	l, err := a.adapter.Launch(opts)
	if err != nil {
		return adapter.Launch{}, &InputError{"command", err.Error()}
	}
	return l, nil
}

// attach connects a to its terminal and starts its session and watcher.
func (m *Manager) attach(a *agent, p runtimes.Plugin) error {
	conn, err := p.Attach(a.ctx, a.id)
	if err != nil {
		m.watch(a, p, nil)
		return err
	}
	startTimeout := a.startTimeout
	if a.typ == "custom" {
		// Any program may run here; only its screen settling says ready.
		startTimeout = -1
	}
	sess, err := session.New(session.Options{
		ID: a.id, Adapter: a.adapter, Input: conn, Answers: queryAnswers{a, conn}, Cols: termCols, Rows: termRows,
		Logger: m.log.Named("session").With("agent", a.id), StartTimeout: startTimeout, Settle: m.opts.Settle,
		OnEvent: func(e session.Event) { m.sessionEvent(a, e) },
	})
	if err != nil {
		conn.Close()
		m.watch(a, p, nil)
		return err
	}
	a.mu.Lock()
	a.session, a.conn = sess, conn
	a.mu.Unlock()
	m.watch(a, p, conn)
	return nil
}

// sessionEvent passes a session's event on, masked.
func (m *Manager) sessionEvent(a *agent, e session.Event) {
	data := maps.Clone(e.Data)
	if data == nil {
		data = map[string]any{}
	}
	switch e.Type {
	case "message":
		a.messages.Add(1)
	case session.EventAgentReady, session.EventAgentError, session.EventLoginRequired, session.EventQuestion:
		// Its pool takes it into account: as ready, or to replace it.
		if p := a.pooled(); p != nil {
			p.poke()
		}
	}
	m.publish(a, e.Type, data)
}

// watch drains a's output into its log and session and follows its
// process until it ends.
func (m *Manager) watch(a *agent, p runtimes.Plugin, conn io.ReadWriteCloser) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		drained := make(chan struct{})
		if conn != nil {
			go func() {
				defer close(drained)
				defer conn.Close()
				defer a.closeTerminal()
				_, _ = io.Copy(a, conn)
			}()
			go func() {
				<-a.ctx.Done()
				conn.Close()
			}()
		} else {
			a.closeTerminal()
			close(drained)
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
		// Its last line may show a key, as it printed its env.
		a.status, a.errMsg = StatusError, a.redact(exitMessage(st, a.output.Bytes()))
	}
	status, errMsg, sess := a.status, a.errMsg, a.session
	a.mu.Unlock()
	if sess != nil {
		sess.Exited(errMsg, status == StatusError)
	}
	// Gone before a Delete's or restart's wait on exited ends.
	m.removeDir(a)
	a.markExited()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.publish(a, "agent_stopped", map[string]any{"reason": exitReason(st, errMsg), "code": st.Code, "signal": st.Signal})
	m.log.Info("agent exited", "agent", a.id, "status", status, "code", st.Code, "signal", st.Signal,
		"reason", a.redact(st.Reason), "error", errMsg)
	// The record, with its view and output, stays until Delete; the log
	// masks its secrets a while longer.
	a.releaseSecrets()
}

func exitReason(st runtime.ExitStatus, errMsg string) string {
	if errMsg != "" {
		return errMsg
	}
	return st.Reason
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
	lines := strings.Split(strings.TrimSpace(string(plainText(b))), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// lost marks a as lost with its runtime.
func (m *Manager) lost(a *agent, reason string) {
	a.mu.Lock()
	if !a.status.live() {
		a.mu.Unlock()
		return
	}
	reason = a.redact(reason)
	a.status, a.errMsg = StatusError, reason
	sess := a.session
	a.mu.Unlock()
	if sess != nil {
		sess.Exited(reason, true)
	}
	m.removeDir(a)
	a.markExited()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.publish(a, "agent_error", map[string]any{"error": reason})
	m.log.Error("agent lost", "agent", a.id, "reason", reason)
	a.releaseSecrets()
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
			id: info.ID, name: info.Labels[LabelName], typ: info.Labels[LabelType], role: info.Labels[LabelRole],
			createdAt: info.StartedAt, output: newRing(outputBytes), exited: make(chan struct{}),
			runtime: runtimeName, status: StatusReady, warnings: info.Warnings,
			watchers: map[*Watcher]struct{}{},
		}
		if c := info.Labels[LabelCapabilities]; c != "" {
			a.capabilities = strings.Split(c, ",")
		}
		a.adapter, _ = adapter.For(a.typ)
		if a.adapter == nil {
			a.adapter = adapter.Custom{}
		}
		if old != nil {
			old.cancel()
			a.createdAt, a.workdir, a.command, a.output = old.createdAt, old.workdir, old.command, old.output
			// The labels hold what the agent was started with; a warm pool
			// agent may have been taken and renamed since.
			old.mu.Lock()
			a.name, a.role, a.capabilities, a.req = old.name, old.role, old.capabilities, old.req
			a.pool, a.retiring, a.poolReady = old.pool, old.retiring, old.poolReady
			old.mu.Unlock()
			a.secrets = append(a.secrets, old.secrets...)
			old.releaseSecrets()
		}
		// The runtime's store gives back the env the agent runs with, so a
		// host that restarted masks its keys too.
		a.secrets = append(a.secrets, agentSecrets(adapter.Credentials{}, info.Env)...)
		// Its home, if one is left, goes with it.
		a.dir = m.dirOf(a.id)
		a.release = m.opts.Secrets.Hold(a.secrets)
		a.ctx, a.cancel = context.WithCancel(context.Background())
		m.agents[info.ID] = a
		m.mu.Unlock()
		m.log.Info("adopted agent", "agent", info.ID, "runtime", runtimeName)
		if err := m.attach(a, p); err != nil {
			m.log.Warn("attaching to adopted agent failed", "agent", a.id, "error", err)
		}
	}
}

// Get returns one agent.
func (m *Manager) Get(id string) (View, error) {
	a, err := m.find(id)
	if err != nil {
		return View{}, err
	}
	return a.view(), nil
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
	a, err := m.find(id)
	if err != nil {
		return View{}, err
	}
	a.mu.Lock()
	if a.pool != nil {
		// No spawn may take it while it stops.
		a.retiring = true
	}
	a.mu.Unlock()
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
	a.closeTerminal()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.removeDir(a)
	a.releaseSecrets()
}

func (m *Manager) sessionOf(id string) (*agent, *session.Session, error) {
	a, err := m.find(id)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pool != nil {
		return nil, nil, fmt.Errorf("agent %s: %w", id, ErrPooled)
	}
	if a.session == nil || !a.status.live() {
		return nil, nil, fmt.Errorf("%w: agent %s is %s", session.ErrStopped, id, a.status)
	}
	return a, a.session, nil
}

// Send types a message to an agent and, with expectResponse, waits for its
// reply. A busy agent refuses (session.ErrBusy) rather than queueing, so a
// caller always knows which reply answers which message.
func (m *Manager) Send(ctx context.Context, id, text string, expectResponse bool, timeout time.Duration) (session.Message, error) {
	a, sess, err := m.sessionOf(id)
	if err != nil {
		return session.Message{}, err
	}
	msg, err := sess.Send(ctx, text, expectResponse, timeout)
	if err == nil {
		a.messages.Add(1)
	}
	msg.Content = a.redact(msg.Content)
	return msg, err
}

// ProvideCredentials gets an agent going that waits for a login: it
// restarts the agent, same id, with apiKey as the credential its CLI reads,
// written into its pre-seeded home. A restart works the same for every CLI,
// where typing into each one's key form would not.
func (m *Manager) ProvideCredentials(ctx context.Context, id, apiKey string) (View, error) {
	a, err := m.find(id)
	if err != nil {
		return View{}, err
	}
	if strings.TrimSpace(apiKey) == "" {
		return View{}, &InputError{"apiKey", "is required"}
	}
	a.mu.Lock()
	req, pooled := a.req, a.pool != nil
	a.mu.Unlock()
	if pooled {
		return View{}, fmt.Errorf("agent %s: %w", id, ErrPooled)
	}
	switch req.Type {
	case "claude":
		req.Credentials.AnthropicKey = apiKey
	case "codex":
		req.Credentials.OpenAIKey = apiKey
	case "gemini":
		req.Credentials.GoogleKey = apiKey
	default:
		return View{}, &InputError{"apiKey", fmt.Sprintf("type %q has no single key to provide; pass credentials when spawning", req.Type)}
	}
	if err := m.stop(ctx, a, StopOptions{Force: true}); err != nil {
		return View{}, err
	}
	m.remove(a)
	cands, err := m.rts.Candidates(a.runtimeName())
	if err != nil {
		return View{}, err
	}
	m.log.Info("restarting agent with new credentials", "agent", id)
	return m.start(ctx, id, a.createdAt, req, cands, nil)
}

// Answer answers an agent's pending question: with keys, or by choosing
// option choice (1-based) when choice > 0.
func (m *Manager) Answer(id string, keys []string, choice int) error {
	_, sess, err := m.sessionOf(id)
	if err != nil {
		return err
	}
	if choice > 0 {
		return sess.Choose(choice)
	}
	return sess.SendKeys(keys)
}

// Shutdown stops the warm pools, then every live agent, idle pool agents
// included, in parallel, and waits for them.
func (m *Manager) Shutdown(ctx context.Context) {
	m.pools.stop()
	var wg sync.WaitGroup
	var live []*agent
	for _, a := range m.all() {
		if st, _ := a.snapshot(); st.live() {
			live = append(live, a)
		}
	}
	if len(live) > 0 {
		// A program that ignores SIGTERM holds shutdown up for the whole
		// timeout; say so, or the wait looks like a hang.
		m.log.Info("stopping agents: SIGTERM, then SIGKILL after the timeout", "agents", len(live), "timeout", DefaultStopTimeout)
	}
	for _, a := range live {
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
		// An agent that would not stop goes with its runtime; its keys
		// must not stay behind either.
		m.removeDir(a)
	}
	m.wg.Wait()
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
