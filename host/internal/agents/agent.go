package agents

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"

	"github.com/parallax/parallax/sdk/runtime"
)

// Exit is how an agent's process ended, for the API.
type Exit struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
	Reason string `json:"reason"`
}

// View is an agent as the API shows it. It never carries env values: they
// may hold credentials.
type View struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	Status    session.Status `json:"status"`
	Runtime   string         `json:"runtime"`
	CreatedAt time.Time      `json:"createdAt"`
	// Capabilities is never null, so clients can range over it.
	Capabilities []string `json:"capabilities"`
	Role         string   `json:"role"`
	Workdir      string   `json:"workdir"`
	Command      []string `json:"command,omitempty"`
	Error        string   `json:"error,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Exit         *Exit    `json:"exit,omitempty"`
	// Pending is the question or login prompt the agent waits on.
	Pending *session.Prompt `json:"pending,omitempty"`
	// Pooled is set while the agent waits idle in the warm pool.
	Pooled bool `json:"pooled"`
	// EndedAt is when the agent's process ended, once it did.
	EndedAt *time.Time `json:"endedAt,omitempty"`
	// Removed is set on an agent that was deleted: it shows only in the
	// history (?all=true).
	Removed bool `json:"removed,omitempty"`
}

// agent is one managed agent.
type agent struct {
	id, name, typ string
	capabilities  []string
	role          string
	createdAt     time.Time
	workdir       string
	command       []string
	output        *ring
	adapter       adapter.Adapter
	req           SpawnRequest // as spawned, credentials included, for a restart
	startTimeout  time.Duration
	// dir is the agent's directory in the data dir (see dirOf), removed
	// when the agent ends; "" without a data dir.
	dir     string
	home    string   // private home in dir; "" if none
	secrets []string // credential values, masked wherever text leaves
	// release lets the host log's masking forget the secrets; nil if
	// they were never held.
	release  func()
	messages atomic.Int64
	// mask masks secrets in the output the store keeps; resume skips the
	// replayed output the store has already, after an adopt. Both are
	// used under termMu.
	mask   *redact.Stream
	resume *resumeFilter
	// outputDropped: the agent ended and its output is only in the store.
	outputDropped bool

	// ctx ends the agent's watcher; cancelled when the agent is removed.
	ctx    context.Context
	cancel context.CancelFunc
	// exited is closed once the watcher saw the process end or lost it.
	exited     chan struct{}
	exitedOnce sync.Once

	mu       sync.Mutex
	runtime  string
	status   session.Status
	errMsg   string
	warnings []string
	exit     *runtime.ExitStatus
	endedAt  time.Time
	statuses []store.StatusChange // the latest, for the store
	// store keeps the output; nil without one.
	store *store.Store
	// forgotten: deleted, so no more records are written.
	forgotten bool
	stopping  bool // a Delete is under way, so an exit is expected
	session   *session.Session
	conn      io.Writer // the runtime's attach stream, for keys and resizes
	// pool is the warm pool the agent idles in, nil once taken or if it
	// never was; retiring marks one that its pool or a Delete stops, so
	// no spawn takes it; poolReady is set once its pool saw it ready.
	pool      *pool
	retiring  bool
	poolReady bool

	// termMu orders output into the ring and out to the watchers, so a new
	// watcher's replay and what it gets next neither overlap nor miss.
	termMu     sync.Mutex
	watchers   map[*Watcher]struct{}
	termClosed bool
}

// Write takes the agent's terminal output: into its log and its session.
func (a *agent) Write(p []byte) (int, error) {
	a.termMu.Lock()
	a.output.Write(p)
	a.fanOut(p)
	if a.store != nil {
		if kept := a.mask.Mask(a.resume.filter(p)); len(kept) > 0 {
			a.store.AppendOutput(a.id, kept)
		}
	}
	a.termMu.Unlock()
	a.mu.Lock()
	sess := a.session
	a.mu.Unlock()
	if sess != nil {
		sess.Feed(p)
	}
	return len(p), nil
}

// redact masks the agent's secrets in s.
func (a *agent) redact(s string) string { return redact.String(s, a.secrets) }

// releaseSecrets tells the host log's masking that a no longer needs its
// secrets.
func (a *agent) releaseSecrets() {
	if a.release != nil {
		a.release()
	}
}

func (a *agent) view() View {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := View{
		ID: a.id, Name: a.name, Type: a.typ, Status: a.status, Runtime: a.runtime,
		CreatedAt: a.createdAt, Workdir: a.workdir, Command: redact.Value(a.command, a.secrets).([]string),
		Capabilities: append([]string{}, a.capabilities...), Role: a.role,
		Error: a.errMsg, Warnings: a.warnings, Pooled: a.pool != nil,
	}
	if a.exit != nil {
		v.Exit = &Exit{Code: a.exit.Code, Signal: a.exit.Signal, Reason: a.exit.Reason}
	}
	if !a.endedAt.IsZero() {
		at := a.endedAt
		v.EndedAt = &at
	}
	// While the process runs, the session knows best what it is doing.
	if a.session != nil && a.status.Live() {
		v.Status = a.session.Status()
		v.Error = a.redact(a.session.Error())
		if p := a.session.Pending(); p != nil {
			// A question is the agent's output, which may show a key.
			masked := redact.Typed(*p, a.secrets).(session.Prompt)
			v.Pending = &masked
		}
	}
	v.Error = a.redact(v.Error)
	return v
}

func (a *agent) setStatus(s session.Status, errMsg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.errMsg = s, errMsg
}

func (a *agent) snapshot() (session.Status, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.runtime
}

func (a *agent) markExited() { a.exitedOnce.Do(func() { close(a.exited) }) }

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
