package agents

import (
	"context"
	"sync"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// Status is a managed agent's state as users see it.
type Status string

const (
	StatusStarting Status = "starting"
	StatusReady    Status = "ready"
	StatusBusy     Status = "busy"
	StatusError    Status = "error"
	StatusStopped  Status = "stopped"
)

// live reports whether the agent's process may still run.
func (s Status) live() bool {
	return s == StatusStarting || s == StatusReady || s == StatusBusy
}

// Exit is how an agent's process ended, for the API.
type Exit struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
	Reason string `json:"reason"`
}

// View is an agent as the API shows it. It never carries env values: they
// may hold credentials.
type View struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Status    Status    `json:"status"`
	Runtime   string    `json:"runtime"`
	CreatedAt time.Time `json:"createdAt"`
	Workdir   string    `json:"workdir,omitempty"`
	Command   []string  `json:"command,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Exit      *Exit     `json:"exit,omitempty"`
}

// agent is one managed agent.
type agent struct {
	id, name, typ string
	createdAt     time.Time
	workdir       string
	command       []string
	output        *ring

	// ctx ends the agent's watcher; cancelled when the agent is removed.
	ctx    context.Context
	cancel context.CancelFunc
	// exited is closed once the watcher saw the process end or lost it.
	exited     chan struct{}
	exitedOnce sync.Once

	mu       sync.Mutex
	runtime  string
	status   Status
	errMsg   string
	warnings []string
	exit     *runtime.ExitStatus
	stopping bool // a Delete is under way, so an exit is expected
}

func (a *agent) view() View {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := View{
		ID: a.id, Name: a.name, Type: a.typ, Status: a.status, Runtime: a.runtime,
		CreatedAt: a.createdAt, Workdir: a.workdir, Command: a.command,
		Error: a.errMsg, Warnings: a.warnings,
	}
	if a.exit != nil {
		v.Exit = &Exit{Code: a.exit.Code, Signal: a.exit.Signal, Reason: a.exit.Reason}
	}
	return v
}

func (a *agent) setStatus(s Status, errMsg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.errMsg = s, errMsg
}

func (a *agent) snapshot() (Status, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.runtime
}

func (a *agent) markExited() { a.exitedOnce.Do(func() { close(a.exited) }) }
