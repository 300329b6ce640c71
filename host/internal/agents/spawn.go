package agents

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"
	"github.com/parallax/parallax/sdk/runtime"
)

// SpawnError is a spawn that every candidate runtime refused.
type SpawnError struct {
	// Invalid is set when every runtime called the spec invalid, so the
	// request is at fault rather than the runtimes.
	Invalid bool
	Msg     string
}

func (e *SpawnError) Error() string { return e.Msg }

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
	at := m.opts.AgentType(req.Type)
	ad := adapterFor(req, at)
	a := &agent{
		id: id, name: req.Name, typ: req.Type, createdAt: createdAt,
		capabilities: req.Capabilities, role: req.Role,
		workdir: req.Workdir, command: req.Command, output: newRing(outputBytes),
		exited: make(chan struct{}), status: session.StatusStarting, req: req, dir: m.dirOf(id),
		adapter: ad, startTimeout: at.StartTimeout, secrets: agentSecrets(req.Credentials, at.Env, req.Env),
		watchers: map[*Watcher]struct{}{}, pool: p,
	}
	m.useStore(a)
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
	// On disk before any runtime runs it: after a crash, the next host
	// must know whatever a runtime may have started.
	m.noteStatus(a, session.StatusStarting, "spawn")
	if err := m.keep(a, true); err != nil {
		m.remove(a)
		return View{}, fmt.Errorf("recording the agent in the store: %w", err)
	}

	var failures []string
	invalid := true
	for _, c := range cands {
		// Each runtime may show the agent its home and workdir at other
		// paths, and the pre-seeded files name them.
		workdir, err := m.workdir(a, req, c.Info.AgentPaths)
		if err != nil {
			m.abandon(a)
			return View{}, err
		}
		launch, err := m.prepare(a, req, at, c.Info.AgentPaths, workdir)
		if err != nil {
			m.abandon(a)
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
		_ = m.keep(a, false)
		m.publish(a, events.AgentStartedData{Name: req.Name, Type: req.Type, Runtime: c.Name, Pooled: new(p != nil)})
		return a.view(), nil
	}

	m.abandon(a)
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
	dir := filepath.Join(a.dir, "work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("making the agent's scratch workdir: %w", err)
	}
	return dir, nil
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
	if at.Preseed && req.Type != adapter.CustomType && m.opts.DataDir != "" {
		a.home = filepath.Join(a.dir, "home")
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
	if late, ok := a.adapter.(adapter.LoginLate); ok {
		a.adapter = late.ForLaunch(opts)
	}
	l, err := a.adapter.Launch(opts)
	if err != nil {
		return adapter.Launch{}, &InputError{"command", err.Error()}
	}
	return l, nil
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

// attach connects a to its terminal and starts its session and watcher.
func (m *Manager) attach(a *agent, p runtimes.Plugin) error {
	conn, err := p.Attach(a.ctx, a.id)
	if err != nil {
		m.watch(a, p, nil)
		return err
	}
	startTimeout := a.startTimeout
	if a.typ == adapter.CustomType {
		// Any program may run here; only its screen settling says ready.
		startTimeout = -1
	}
	sess, err := session.New(session.Options{
		ID: a.id, Adapter: a.adapter, Input: conn, Answers: queryAnswers{a, conn}, Cols: termCols, Rows: termRows,
		Logger: m.log.Named("session").With("agent", a.id), StartTimeout: startTimeout, Settle: m.opts.Settle,
		OnEvent: func(e events.Event) { m.sessionEvent(a, e) },
		OnSent: func(text string, expectResponse bool) {
			m.transcribe(a, store.Entry{Kind: store.KindSent, Text: text, ExpectResponse: expectResponse})
		},
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

// sessionEvent passes a session's event on, masked, and keeps what the
// history wants of it.
func (m *Manager) sessionEvent(a *agent, e events.Event) {
	switch d := e.Data.(type) {
	case events.StatusData:
		m.noteStatus(a, session.Status(d.To), d.Reason)
	case events.MessageData:
		m.transcribe(a, store.Entry{Kind: store.KindReply, Text: d.Content, Time: d.Time.UTC()})
	case events.QuestionData:
		q := store.Entry{Kind: store.KindQuestion, Text: d.Message}
		if d.Asked != nil {
			q.Text, q.Choices = d.Asked.Question, d.Asked.Choices
		}
		m.transcribe(a, q)
	}
	switch e.Event {
	case events.Message:
		a.messages.Add(1)
	case events.AgentReady, events.AgentError, events.LoginRequired, events.Question:
		// Its pool takes it into account: as ready, or to replace it.
		if p := a.pooled(); p != nil {
			p.poke()
		}
	}
	m.publish(a, e.Data)
}

// useStore has a keep its output in the store, masked.
func (m *Manager) useStore(a *agent) {
	if m.opts.Store != nil {
		a.store, a.mask = m.opts.Store, redact.NewStream(a.secrets)
	}
}

// abandon forgets an agent no runtime started: a failed spawn leaves no
// history, as the caller got an error, not an agent.
func (m *Manager) abandon(a *agent) {
	m.remove(a)
	if err := m.forget(a, true); err != nil {
		m.log.Warn("removing a failed spawn's record failed", "agent", a.id, "error", err)
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
