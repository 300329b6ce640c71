// Package patterns executes the config's patterns: capability patterns
// over the agents of the catalogue, and org charts whose managed roles it
// staffs by spawning agents, and stops again however the execution ends.
package patterns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"

	"github.com/parallax/parallax/host/internal/aggregate"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/sdk/agent/protocol"
)

// Status of an execution.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// ErrUnknownPattern is returned for a name the config doesn't define.
var ErrUnknownPattern = errors.New("no such pattern")

// ErrNotFound is returned for an execution id the engine doesn't know.
var ErrNotFound = errors.New("no such execution")

// AgentResult is one agent's part of an execution.
type AgentResult struct {
	AgentID    string  `json:"agentId"`
	Result     string  `json:"result"`
	Confidence float64 `json:"confidence"`
	Reasoning  string  `json:"reasoning"`
	Error      string  `json:"error,omitempty"`
	DurationMs int64   `json:"durationMs"`
	// Step is the org chart's step the answer was for.
	Step string `json:"step,omitempty"`
}

// StepResult is one step of an org chart's workflow.
type StepResult struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	Result     string    `json:"result,omitempty"`
	Confidence float64   `json:"confidence"`
	Reasoning  string    `json:"reasoning,omitempty"`
	Error      string    `json:"error,omitempty"`
	Attempts   int       `json:"attempts"`
	StartedAt  time.Time `json:"startedAt"`
	DurationMs int64     `json:"durationMs"`
}

// Execution is one run of a pattern.
type Execution struct {
	ID         string            `json:"id"`
	Pattern    string            `json:"pattern"`
	Status     string            `json:"status"`
	Input      map[string]string `json:"input"`
	StartedAt  time.Time         `json:"startedAt"`
	EndedAt    *time.Time        `json:"endedAt,omitempty"`
	Result     string            `json:"result,omitempty"`
	Confidence float64           `json:"confidence"`
	Reasoning  string            `json:"reasoning,omitempty"`
	Error      string            `json:"error,omitempty"`
	Agents     []AgentResult     `json:"agents"`
	// Steps are an org chart's steps so far, in order.
	Steps []StepResult `json:"steps,omitempty"`
}

// Engine runs pattern executions.
type Engine struct {
	log      hclog.Logger
	patterns map[string]config.Pattern
	cat      *catalog.Catalog
	bus      *events.Bus
	managed  Managed // nil: no org charts with managed roles
	tracer   trace.Tracer

	// stopRetryDelay is the wait before trying a failed stop again,
	// times the attempt.
	stopRetryDelay time.Duration

	// journal keeps executions across restarts; nil keeps them in memory.
	journal Journal

	mu    sync.Mutex
	execs map[string]*Execution
	wg    sync.WaitGroup
	stop  context.CancelFunc
	ctx   context.Context
}

// New returns an engine over the config's patterns, the catalogue and
// the managed agents (nil for none).
func New(log hclog.Logger, patterns map[string]config.Pattern, cat *catalog.Catalog, managed Managed, bus *events.Bus, opts ...Option) *Engine {
	ctx, stop := context.WithCancel(context.Background())
	e := &Engine{log: log, patterns: patterns, cat: cat, managed: managed, bus: bus, execs: map[string]*Execution{}, ctx: ctx, stop: stop, stopRetryDelay: 2 * time.Second}
	e.applyOptions(opts)
	return e
}

// Execute starts pattern name on input and returns the execution's id;
// it runs in the background.
func (e *Engine) Execute(name string, input map[string]string) (string, error) {
	p, ok := e.patterns[name]
	if !ok {
		names := make([]string, 0, len(e.patterns))
		for n := range e.patterns {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("%w %q; the config defines: %s", ErrUnknownPattern, name, strings.Join(names, ", "))
	}
	var task string
	if p.Agents != nil {
		var err error
		if task, err = render(p.Task, input, nil); err != nil {
			return "", err
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	x := &Execution{ID: hex.EncodeToString(b[:]), Pattern: name, Status: StatusRunning, Input: maps.Clone(input), StartedAt: time.Now().UTC(), Agents: []AgentResult{}}
	e.mu.Lock()
	e.execs[x.ID] = x
	e.keepLocked(x)
	e.mu.Unlock()
	e.publish(events.ExecutionStartedData{ExecutionID: x.ID, Pattern: name})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.run(x, p, input, task)
	}()
	return x.ID, nil
}

// run executes x and stops the agents it spawned, however it ends; the
// execution ends after that cleanup, so a finished execution never has
// agents still running.
func (e *Engine) run(x *Execution, p config.Pattern, input map[string]string, task string) {
	kind, strategy := "capability", p.Strategy
	if p.Agents == nil {
		kind, strategy = "org-chart", ""
	}
	ctx, traced := e.traceExecution(e.ctx, x, kind, strategy)
	defer traced()
	var spawned []string
	var out *aggregate.Outcome
	var err error
	work, cancel := context.WithTimeout(ctx, p.Timeout)
	if p.Agents == nil {
		out, err = e.workflow(work, x, p, input, &spawned)
	} else {
		out, err = e.runCapability(work, x, p, task, &spawned)
	}
	if err != nil && errors.Is(work.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s (the pattern's timeout): %w", p.Timeout, err)
	}
	cancel()
	e.cleanup(ctx, x, spawned)
	e.finish(x, out, err)
}

// InputError is a problem with the execution's input.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// runCapability executes a capability pattern: it picks registered agents
// by capability, spawns managed ones of the selector's type to make up the
// count when there are too few (adding their ids to spawned), and gives
// them the task.
func (e *Engine) runCapability(ctx context.Context, x *Execution, p config.Pattern, task string, spawned *[]string) (*aggregate.Outcome, error) {
	sel := p.Agents
	req := catalog.Requirement{Capabilities: sel.Capabilities, MinConfidence: sel.MinConfidence, Count: sel.Count}
	span := e.startSelect(ctx, "", sel.Capabilities)
	var members []member
	for _, a := range catalog.Match(e.cat.List(), req, nil) {
		// Managed agents belong to whoever spawned them; a pattern
		// spawns its own.
		if a.Healthy && a.Source != catalog.SourceManaged {
			members = append(members, member{id: a.ID, agent: a})
		}
	}
	missing := sel.Count - len(members)
	if missing > 0 && sel.AgentType == "" {
		err := fmt.Errorf("%d of the %d agents needed (capabilities %s, expertise at least %.2f) are registered and healthy; register more, or set agent_type in the pattern's agents block so the host spawns the rest",
			len(members), sel.Count, strings.Join(sel.Capabilities, ", "), sel.MinConfidence)
		endSelect(span, len(members), err)
		return nil, err
	}
	endSelect(span, len(members), nil)
	if missing > 0 {
		more, ids, err := e.spawn(ctx, x, p.Name, "agent", sel.AgentType, sel.Capabilities, "", missing)
		*spawned = append(*spawned, ids...)
		if err != nil {
			return nil, fmt.Errorf("%d of the %d agents needed are registered; spawning the rest: %w", len(members), sel.Count, err)
		}
		members = append(members, more...)
	}
	var results []aggregate.Result
	if p.Strategy == "sequential" {
		// Each agent gets the task and the result before it.
		prompt := task
		for _, m := range members {
			r := e.do(ctx, x, m, prompt)
			results = append(results, r)
			if r.Err != nil {
				break
			}
			prompt = task + "\n\nThe previous agent's result:\n" + r.Output
		}
	} else {
		results = e.fanOut(ctx, x, members, task)
	}
	combine, _ := aggregate.ByStrategy(p.Strategy)
	out, err := combine(results)
	return &out, err
}

// call gives one agent the task over the Agent protocol.
func (e *Engine) call(ctx context.Context, x *Execution, a catalog.Agent, task string) aggregate.Result {
	start := time.Now()
	ctx, span := e.startTask(ctx, a.ID)
	r := aggregate.Result{AgentID: a.ID}
	c, err := protocol.Dial(a.Endpoint)
	if err == nil {
		defer c.Close()
		var res protocol.Result
		timeout := time.Duration(0)
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		res, err = c.Execute(ctx, protocol.Task{ID: x.ID + "-" + a.ID, Description: task, Timeout: timeout})
		r.Output, r.Confidence, r.Reasoning = string(res.Result), res.Confidence, res.Reasoning
	}
	r.Err = err
	endTask(span, e.record(ctx, x, r, start), err)
	return r
}

// record adds an agent's part to the execution.
func (e *Engine) record(ctx context.Context, x *Execution, r aggregate.Result, start time.Time) AgentResult {
	step, _ := ctx.Value(stepKey{}).(string)
	ar := AgentResult{AgentID: r.AgentID, Result: r.Output, Confidence: r.Confidence, Reasoning: r.Reasoning, DurationMs: time.Since(start).Milliseconds(), Step: step}
	if r.Err != nil {
		ar.Error = r.Err.Error()
		e.log.Warn("agent failed its task", "execution", x.ID, "agent", r.AgentID, "error", r.Err)
	}
	e.mu.Lock()
	x.Agents = append(x.Agents, ar)
	e.keepLocked(x)
	e.mu.Unlock()
	return ar
}

func (e *Engine) finish(x *Execution, out *aggregate.Outcome, err error) {
	if err != nil && e.ctx.Err() != nil {
		err = fmt.Errorf("the host shut down during the execution: %w", err)
	}
	if err != nil {
		e.log.Warn("pattern execution failed", "execution", x.ID, "pattern", x.Pattern, "error", err)
	} else {
		e.log.Info("pattern execution completed", "execution", x.ID, "pattern", x.Pattern)
	}
	now := time.Now().UTC()
	e.mu.Lock()
	x.EndedAt = &now
	if err != nil {
		x.Status, x.Error = StatusFailed, err.Error()
	} else {
		x.Status = StatusCompleted
	}
	if out != nil {
		x.Result, x.Confidence, x.Reasoning = out.Output, out.Confidence, out.Reasoning
	}
	e.keepLocked(x)
	e.mu.Unlock()
	if err != nil {
		e.publish(events.ExecutionFailedData{ExecutionID: x.ID, Pattern: x.Pattern, Error: err.Error()})
		return
	}
	e.publish(events.ExecutionCompletedData{ExecutionID: x.ID, Pattern: x.Pattern, Confidence: x.Confidence})
}

func (e *Engine) publish(d events.Data) {
	if e.bus == nil {
		return
	}
	e.bus.Publish(events.New("", d))
}

// Get returns a copy of execution id.
func (e *Engine) Get(id string) (Execution, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.execs[id]
	if !ok {
		e.mu.Unlock()
		old, found, err := e.stored(id)
		e.mu.Lock()
		if err != nil {
			return Execution{}, err
		}
		if !found {
			return Execution{}, fmt.Errorf("%w %q", ErrNotFound, id)
		}
		return old, nil
	}
	out := *x
	out.Agents = append([]AgentResult(nil), x.Agents...)
	out.Steps = append([]StepResult(nil), x.Steps...)
	return out, nil
}

// Shutdown cancels running executions and waits for them.
func (e *Engine) Shutdown() {
	e.stop()
	e.wg.Wait()
}
