package agenttable

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// killWait bounds the wait for an agent to exit once it was killed. It is
// a deadline of its own: a caller that gave up must not leave an agent
// half-killed.
const killWait = time.Minute

// ErrExited is the error of input to an agent that exited.
var ErrExited = errors.New("agent exited")

// Logger is where an Agent logs; an hclog.Logger is one.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Error(msg string, args ...any)
}

// Agent is the books of one agent. A runtime embeds *Agent, from
// NewAgent, in its own agent type.
type Agent struct {
	// These describe the agent in Info. Set them before the agent goes
	// into a Table; they are read without a lock after.
	ID        string
	PID       int
	StartedAt time.Time
	Labels    map[string]string
	Warnings  []string
	// Env is the env the agent was started with, which only ListWithEnv
	// gives out: the host masks the agent's secrets in its output with it
	// after it reattached or restarted.
	Env map[string]string

	log     Logger
	exited  chan struct{} // closed by ExitWith
	drained chan struct{} // closed by Drained

	// stopMu serialises ending the agent: by its deadline, by Stop, or
	// both at once.
	stopMu   sync.Mutex
	released bool

	mu     sync.Mutex
	exit   *runtime.ExitStatus
	reason string // why we are ending it; "" while nobody is
	timer  *time.Timer
}

// NewAgent returns the books of a running agent that logs to log.
func NewAgent(id string, log Logger) *Agent {
	if log == nil {
		log = nopLogger{}
	}
	return &Agent{ID: id, log: log, exited: make(chan struct{}), drained: make(chan struct{})}
}

func (a *Agent) agent() *Agent { return a }

// Info describes the agent, with its exit once it exited.
func (a *Agent) Info() runtime.AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := runtime.AgentInfo{
		ID:        a.ID,
		State:     runtime.StateRunning,
		PID:       a.PID,
		StartedAt: a.StartedAt,
		Labels:    maps.Clone(a.Labels),
		Warnings:  append([]string(nil), a.Warnings...),
	}
	if a.exit != nil {
		exit := *a.exit
		info.State, info.Exit = runtime.StateExited, &exit
	}
	return info
}

// Exited is closed once the agent's exit is recorded.
func (a *Agent) Exited() <-chan struct{} { return a.exited }

// HasExited reports whether the agent's exit is recorded.
func (a *Agent) HasExited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// Uptime is how long the agent ran, until its exit or now.
func (a *Agent) Uptime() time.Duration {
	if info := a.Info(); info.Exit != nil {
		return info.Exit.ExitedAt.Sub(a.StartedAt)
	}
	return time.Since(a.StartedAt)
}

// SetReason records why the runtime ends the agent, for its exit status,
// unless it already exited. A timeout stays a timeout even when it has to
// escalate to a kill.
func (a *Agent) SetReason(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exit == nil && a.reason != "timeout" {
		a.reason = reason
	}
}

// Exit records how the agent ended, once. An empty st.Reason becomes the
// one given to SetReason, else "exited".
func (a *Agent) Exit(st runtime.ExitStatus) runtime.ExitStatus {
	return a.ExitWith(func(reason string) runtime.ExitStatus {
		st.Reason = cmp.Or(st.Reason, reason, "exited")
		return st
	})
}

// ExitWith is Exit for a runtime that weighs the SetReason reason itself:
// how gets it ("" for none) under the lock SetReason takes, so that no
// reason set meanwhile is lost.
func (a *Agent) ExitWith(how func(reason string) runtime.ExitStatus) runtime.ExitStatus {
	a.mu.Lock()
	st := how(a.reason)
	a.exit = &st
	timer := a.timer
	a.mu.Unlock()
	close(a.exited)
	if timer != nil {
		timer.Stop()
	}
	a.log.Debug("agent exited", "code", st.Code, "signal", st.Signal, "reason", st.Reason)
	return st
}

// Drained says, once, that the output after the exit is all in, so
// Release may free what carries it.
func (a *Agent) Drained() { close(a.drained) }

// ArmDeadline calls stop at deadline unless the agent exited by then. A
// zero deadline arms nothing.
func (a *Agent) ArmDeadline(deadline time.Time, stop func() error) {
	if deadline.IsZero() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exit != nil {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(time.Until(deadline), func() {
		a.log.Info("agent reached its timeout; stopping it")
		if err := stop(); err != nil {
			a.log.Error("cannot stop agent at its timeout", "error", err)
		}
	})
}

func (a *Agent) disarm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
}

// Stopping runs fn while nothing else ends or releases the agent.
func (a *Agent) Stopping(fn func() error) error {
	a.stopMu.Lock()
	defer a.stopMu.Unlock()
	return fn()
}

// Terminate ends the agent for reason and returns once it exited.
// Graceful calls term and waits up to grace for the exit; then, or at once
// when not graceful, the reason becomes "killed" (a timeout stays one) and
// kill runs. kill runs
// after an exit too, for what the agent may have left behind, so it must
// not fail for an agent that is gone.
//
// ctx cuts the graceful wait short, not the kill: leaving processes
// behind is worse than not waiting.
func (a *Agent) Terminate(ctx context.Context, graceful bool, grace time.Duration, reason string,
	term func(), kill func(ctx context.Context) error) error {
	return a.Stopping(func() error {
		if !a.HasExited() {
			if graceful {
				a.SetReason(reason)
				term()
				t := time.NewTimer(grace)
				select {
				case <-a.exited:
				case <-t.C:
				case <-ctx.Done():
				}
				t.Stop()
			}
			if !a.HasExited() {
				if reason != "timeout" {
					reason = "killed"
				}
				a.SetReason(reason)
			}
		}
		kctx, cancel := context.WithTimeout(context.Background(), killWait)
		defer cancel()
		if err := kill(kctx); err != nil {
			return err
		}
		select {
		case <-a.exited:
			return nil
		case <-kctx.Done():
			return errors.New("the agent did not exit after it was killed")
		}
	})
}

// Release frees the agent, once: it disarms the deadline, waits until the
// output is drained (the agent's last words, such as a TERM trap's, come
// after its exit) or ctx ends, and calls free. Later calls return nil.
func (a *Agent) Release(ctx context.Context, free func() error) error {
	a.stopMu.Lock()
	defer a.stopMu.Unlock()
	if a.released {
		return nil
	}
	a.released = true
	a.disarm()
	select {
	case <-a.drained:
	case <-ctx.Done():
	}
	return free()
}

// Input wraps write, which types into the agent's terminal, to fail with
// ErrExited once the agent exited.
func (a *Agent) Input(write func(p []byte) (int, error)) func(p []byte) (int, error) {
	return func(p []byte) (int, error) {
		if a.HasExited() {
			return 0, ErrExited
		}
		return write(p)
	}
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
