package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/screen"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/runtime"
)

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

// finished records how a's process ended.
func (m *Manager) finished(a *agent, st runtime.ExitStatus) {
	a.mu.Lock()
	a.exit = &st
	a.endedAt = time.Now().UTC()
	switch {
	case a.stopping, st.Code == 0 && st.Signal == "":
		a.status, a.errMsg = session.StatusStopped, ""
	case st.Reason == "timeout":
		a.status, a.errMsg = session.StatusStopped, "stopped: reached its timeout"
	default:
		// Its last line may show a key, as it printed its env.
		a.status, a.errMsg = session.StatusError, a.redact(exitMessage(st, a.output.Bytes()))
	}
	status, errMsg, sess := a.status, a.errMsg, a.session
	a.mu.Unlock()
	if sess != nil {
		sess.Exited(errMsg, status == session.StatusError)
	}
	// Gone before a Delete's or restart's wait on exited ends.
	m.removeDir(a)
	a.markExited()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.noteStatus(a, status, exitReason(st, errMsg))
	m.publish(a, events.AgentStoppedData{Reason: exitReason(st, errMsg), Code: st.Code, Signal: st.Signal})
	m.log.Info("agent exited", "agent", a.id, "status", status, "code", st.Code, "signal", st.Signal,
		"reason", a.redact(st.Reason), "error", errMsg)
	// The record, with its view and output, stays until Delete; the log
	// masks its secrets a while longer.
	a.releaseSecrets()
	a.dropOutput()
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
	lines := strings.Split(strings.TrimSpace(string(screen.PlainText(b))), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// lost marks a as lost with its runtime.
func (m *Manager) lost(a *agent, reason string) {
	a.mu.Lock()
	if !a.status.Live() {
		a.mu.Unlock()
		return
	}
	reason = a.redact(reason)
	a.status, a.errMsg = session.StatusError, reason
	a.endedAt = time.Now().UTC()
	sess := a.session
	a.mu.Unlock()
	m.noteStatus(a, session.StatusError, reason)
	if sess != nil {
		sess.Exited(reason, true)
	}
	m.removeDir(a)
	a.markExited()
	if p := a.pooled(); p != nil {
		p.poke()
	}
	m.publish(a, events.AgentErrorData{Error: reason})
	m.log.Error("agent lost", "agent", a.id, "reason", reason)
	a.releaseSecrets()
	a.dropOutput()
}

// RuntimeLost marks every live agent of the named runtime as lost. The
// runtimes manager calls it when a plugin died.
func (m *Manager) RuntimeLost(runtimeName, reason string) {
	for _, a := range m.all() {
		if st, rt := a.snapshot(); rt == runtimeName && st.Live() {
			m.lost(a, reason+"; the agent was lost with it")
		}
	}
}

// StopOptions control Delete.
type StopOptions struct {
	Force   bool
	Timeout time.Duration // 0 means DefaultStopTimeout
	// Purge removes the agent's history too: its record, transcript and
	// output.
	Purge bool
}

// Delete stops an agent and takes it out of the list; its history stays
// in the store, unless opts.Purge. It returns the agent's last view.
func (m *Manager) Delete(ctx context.Context, id string, opts StopOptions) (View, error) {
	a, err := m.find(id)
	if errors.Is(err, ErrNotFound) {
		return m.deleteStored(id, opts.Purge)
	}
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
	// Before the answer: a deleted agent must not come back as listed
	// after a crash.
	err = m.forget(a, opts.Purge)
	v := a.view()
	v.Removed = !opts.Purge
	return v, err
}

// deleteStored deletes an agent only the store remembers.
func (m *Manager) deleteStored(id string, purge bool) (View, error) {
	r, ok, err := m.stored(id)
	if err != nil {
		return View{}, err
	}
	if !ok {
		return View{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if purge {
		return viewOf(r), m.opts.Store.Purge(id)
	}
	r.Removed = true
	return viewOf(r), m.opts.Store.PutAgentSync(r)
}

// stop ends a's process through its runtime and waits until it exited.
func (m *Manager) stop(ctx context.Context, a *agent, opts StopOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultStopTimeout
	}
	a.mu.Lock()
	live := a.status.Live()
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

// Shutdown stops the warm pools, then every live agent, idle pool agents
// included, in parallel, and waits for them.
func (m *Manager) Shutdown(ctx context.Context) {
	m.pools.stop()
	var wg sync.WaitGroup
	var live []*agent
	for _, a := range m.all() {
		if st, _ := a.snapshot(); st.Live() {
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

// Detach lets go of every agent without stopping it, for a host that
// stops but leaves its agents running for the next start to adopt (an
// upgrade, say): their records stay live in the store.
func (m *Manager) Detach() {
	m.pools.stop()
	all := m.all()
	for _, a := range all {
		a.mu.Lock()
		// Its watcher must not take the closing stream for an exit.
		a.stopping = true
		a.mu.Unlock()
		_ = m.keep(a, false)
		a.cancel()
	}
	m.wg.Wait()
	m.log.Info("left the agents running for the next start", "agents", len(all))
}
