package agents

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
)

// The warm pool keeps agents of the configured types spawned and ready, so
// that a spawn which asks for nothing special gets one at once rather than
// waiting for a CLI to start.
//
// A spawn request is compatible with a pooled agent when it has the agent's
// type; its runtime is unset or the agent's runtime; it sets no workdir, env,
// credentials, command or resources; and its approval is unset or the
// type's own. The request's name (when given), role and capabilities are
// then applied to the agent taken. Only an agent that is ready with nothing
// pending, on a runtime healthy now, is taken, the oldest first, from the
// pool without a runtime before the pinned ones. From then on it is an ordinary agent, and its
// pool starts a replacement in the background.
//
// An idle pool agent shows pooled in its View, is no candidate for patterns
// (the catalogue leaves it out) and refuses messages, answers, keys and
// credentials with ErrPooled, so that it is as fresh when taken as a cold
// one. Deleting one is allowed: it is replaced. One that exits, fails, or
// waits on a question or a login it can't get in the pool is stopped and
// replaced after a backoff that doubles with each failure in a row, from
// poolBackoffMin to poolBackoffMax, and resets when one of the pool's new
// agents gets ready: a broken runtime or CLI costs a spawn a minute, not a
// loop.

// ErrPooled refuses to drive an agent that is idle in the warm pool.
var ErrPooled = errors.New("the agent is idle in the warm pool: spawn an agent of its type to take it")

const (
	poolBackoffMin = time.Second
	poolBackoffMax = time.Minute
	// poolResync bounds how long a pool goes without checking its agents,
	// should a poke ever be missed.
	poolResync = 5 * time.Second
	// poolStartTimeout bounds one pool spawn; see warmPool.spawn.
	poolStartTimeout = 2 * time.Minute
)

// pool keeps size agents of one type ready, on runtime or, when it is "",
// wherever runtime selection puts them.
type pool struct {
	typ, runtime string
	size         int
	kick         chan struct{}

	// The pool's loop alone uses these.
	failures int
	retryAt  time.Time
}

// poke makes the pool check its agents soon. It never blocks.
func (p *pool) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// PoolStats is the warm pool of one agent type, summed over its runtimes.
type PoolStats struct {
	Type string
	// Size is the configured number of agents; Ready the idle ones that a
	// spawn could take now.
	Size, Ready int
	// Hits and Misses count the spawns a pool could serve that got an
	// agent from it or found none ready; Incompatible the spawns of the
	// type it could not serve (a workdir, env, another runtime …).
	Hits, Misses, Incompatible uint64
	// Spawned and SpawnFailed count the pool's own spawns; Replaced the
	// agents it stopped because they exited, failed or waited on a prompt.
	Spawned, SpawnFailed, Replaced uint64
}

// warmPool runs the pools of a Manager.
type warmPool struct {
	m      *Manager
	pools  []*pool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stats   map[string]*PoolStats
	started bool
}

func newWarmPool(m *Manager, sizes []config.WarmPool) *warmPool {
	if len(sizes) == 0 {
		return nil
	}
	w := &warmPool{m: m, stats: map[string]*PoolStats{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	for _, s := range sizes {
		w.pools = append(w.pools, &pool{typ: s.Type, runtime: s.Runtime, size: s.Size, kick: make(chan struct{}, 1)})
		st := w.stats[s.Type]
		if st == nil {
			st = &PoolStats{Type: s.Type}
			w.stats[s.Type] = st
		}
		st.Size += s.Size
	}
	// Unpinned pools first: the order take tries them in.
	sort.SliceStable(w.pools, func(i, j int) bool { return w.pools[i].runtime == "" && w.pools[j].runtime != "" })
	return w
}

// StartPools starts filling the warm pools. Call it once the runtimes are
// up; before, every pool spawn would fail and back off.
func (m *Manager) StartPools() {
	w := m.pools
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.ctx.Err() != nil {
		return
	}
	w.started = true
	for _, p := range w.pools {
		w.wg.Add(1)
		go w.run(p)
	}
}

// stop ends the pools' loops and waits for them, spawns under way
// included, so that Shutdown sees every agent they started.
func (w *warmPool) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.cancel()
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *warmPool) count(typ string, f func(*PoolStats)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.stats[typ]; st != nil {
		f(st)
	}
}

// PoolStats returns each pooled type's stats, by type.
func (m *Manager) PoolStats() []PoolStats {
	w := m.pools
	if w == nil {
		return nil
	}
	ready := map[string]int{}
	for _, a := range m.all() {
		a.mu.Lock()
		if a.pool != nil && !a.retiring && a.readyLocked() {
			ready[a.typ]++
		}
		a.mu.Unlock()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]PoolStats, 0, len(w.stats))
	for _, st := range w.stats {
		s := *st
		s.Ready = ready[s.Type]
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// serves reports whether some pool could serve req, by the rules above.
func (w *warmPool) serves(req SpawnRequest, approval string) bool {
	if len(req.Command) > 0 || req.Workdir != "" || len(req.Env) > 0 || req.Credentials != (adapter.Credentials{}) ||
		req.Resources != (Resources{}) || (req.Approval != "" && req.Approval != approval) {
		return false
	}
	for _, p := range w.pools {
		if p.typ == req.Type && (p.runtime == "" || req.Runtime == "" || p.runtime == req.Runtime) {
			return true
		}
	}
	return false
}

// take hands a ready pool agent to req, if a pool serves it and has one on
// one of the runtimes cands. It counts the request as a hit, a miss or
// incompatible, when its type has a pool.
func (w *warmPool) take(req SpawnRequest, cands []runtimes.Candidate) (View, bool) {
	if w == nil || w.stats[req.Type] == nil {
		return View{}, false
	}
	if !w.serves(req, w.m.opts.AgentType(req.Type).Approval) {
		w.count(req.Type, func(s *PoolStats) { s.Incompatible++ })
		return View{}, false
	}
	all := w.m.all()
	for _, p := range w.pools {
		if p.typ != req.Type {
			continue
		}
		for _, a := range all {
			if a.claim(p, req, cands) {
				p.poke()
				w.count(req.Type, func(s *PoolStats) { s.Hits++ })
				v := a.view()
				w.m.log.Info("agent taken from the warm pool", "agent", a.id, "name", v.Name, "type", req.Type, "runtime", v.Runtime)
				w.m.publish(a, events.AgentStartedData{Name: v.Name, Type: v.Type, Runtime: v.Runtime, FromPool: true})
				return v, true
			}
		}
	}
	w.count(req.Type, func(s *PoolStats) { s.Misses++ })
	return View{}, false
}

// claim takes a out of pool p for req, if it is p's, idle, ready and on
// one of the runtimes cands. Claims of one agent are serialised by a.mu,
// so only one of two racing spawns gets it.
func (a *agent) claim(p *pool, req SpawnRequest, cands []runtimes.Candidate) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pool != p || a.retiring || !a.readyLocked() || (req.Runtime != "" && a.runtime != req.Runtime) ||
		!slices.ContainsFunc(cands, func(c runtimes.Candidate) bool { return c.Name == a.runtime }) {
		return false
	}
	a.pool = nil
	if req.Name != "" {
		a.name = req.Name
	}
	a.role, a.capabilities = req.Role, req.Capabilities
	a.req.Name, a.req.Role, a.req.Capabilities = a.name, a.role, a.capabilities
	return true
}

// readyLocked reports whether a waits at its prompt with nothing pending.
func (a *agent) readyLocked() bool {
	return a.status.Live() && a.session != nil && a.session.Status() == session.StatusReady && a.session.Pending() == nil
}

// pooled returns a's pool while it is idle in one, else nil.
func (a *agent) pooled() *pool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pool
}

// run keeps pool p full until the pools stop.
func (w *warmPool) run(p *pool) {
	defer w.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-p.kick:
		case <-timer.C:
		}
		wait := w.fill(p)
		timer.Reset(wait)
	}
}

// fill replaces p's broken agents and spawns until p has its size, unless
// it backs off. It returns when to look again.
func (w *warmPool) fill(p *pool) time.Duration {
	live := 0
	for _, a := range w.m.all() {
		a.mu.Lock()
		if a.pool != p || a.retiring {
			a.mu.Unlock()
			continue
		}
		why := a.brokenLocked()
		if why == "" {
			live++
			if !a.poolReady && a.readyLocked() {
				a.poolReady = true
				p.failures = 0
			}
		} else {
			// Marked under a.mu, so no spawn claims it from here on.
			a.retiring = true
		}
		a.mu.Unlock()
		if why != "" {
			w.replace(p, a, why)
		}
	}
	for live < p.size {
		if w.ctx.Err() != nil {
			return poolResync
		}
		if wait := time.Until(p.retryAt); wait > 0 {
			return wait
		}
		if err := w.spawn(p); err != nil {
			w.count(p.typ, func(s *PoolStats) { s.SpawnFailed++ })
			w.backOff(p, "warm pool spawn failed", "error", err)
			return time.Until(p.retryAt)
		}
		w.count(p.typ, func(s *PoolStats) { s.Spawned++ })
		live++
	}
	return poolResync
}

// brokenLocked says why a can't serve from the pool, or "" if it can or
// still may: it exited, failed, or waits on a person.
func (a *agent) brokenLocked() string {
	if !a.status.Live() {
		if a.errMsg != "" {
			return a.errMsg
		}
		return "it exited"
	}
	if a.session == nil {
		return "it has no terminal"
	}
	if a.session.Status() == session.StatusError {
		return a.session.Error()
	}
	if pr := a.session.Pending(); pr != nil {
		return "it waits on a " + pr.String() + ", which nobody answers in the pool"
	}
	return ""
}

// replace stops and forgets a broken pool agent; its pool backs off before
// the next spawn.
func (w *warmPool) replace(p *pool, a *agent, why string) {
	w.count(p.typ, func(s *PoolStats) { s.Replaced++ })
	w.backOff(p, "replacing a warm pool agent", "agent", a.id, "reason", a.redact(why))
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStopTimeout+5*time.Second)
	defer cancel()
	if err := w.m.stop(ctx, a, StopOptions{Force: true}); err != nil {
		w.m.log.Warn("stopping a warm pool agent failed", "agent", a.id, "error", err)
	}
	w.m.remove(a)
}

// backOff counts a failure of p and delays its next spawn; it logs msg
// with args and the delay.
func (w *warmPool) backOff(p *pool, msg string, args ...any) {
	p.failures++
	delay := poolBackoff(p.failures)
	p.retryAt = time.Now().Add(delay)
	w.m.log.Warn(msg, append(args, "type", p.typ, "runtime", p.runtime, "failures", p.failures, "retryIn", delay)...)
}

// poolBackoff is the wait after failures failures in a row.
func poolBackoff(failures int) time.Duration {
	return min(poolBackoffMin<<min(failures-1, 10), poolBackoffMax)
}

// spawn starts one agent into p. Its context is not the pools': cancelling
// a start midway can leave a process the host never hears of, so stop
// waits for the start instead.
func (w *warmPool) spawn(p *pool) error {
	cands, err := w.m.rts.Candidates(p.runtime)
	if err != nil {
		return err
	}
	id := newID()
	ctx, cancel := context.WithTimeout(context.Background(), poolStartTimeout)
	defer cancel()
	req := SpawnRequest{Type: p.typ, Runtime: p.runtime, Name: p.typ + "-" + id[:6]}
	_, err = w.m.start(ctx, id, time.Now().UTC(), req, cands, p)
	return err
}
