package patterns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/agentserver"
	"github.com/parallax/parallax/host/internal/aggregate"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/session"
)

// Managed is what org charts need of the agents manager: spawn, wait,
// message and delete the agents of managed roles.
type Managed interface {
	Spawn(ctx context.Context, req agents.SpawnRequest) (agents.View, error)
	Get(id string) (agents.View, error)
	Send(ctx context.Context, id, text string, expectResponse bool, timeout time.Duration) (string, error)
	Delete(ctx context.Context, id string, opts agents.StopOptions) (agents.View, error)
}

// member is one agent filling a role: a managed one (by id) or a
// registered one (by endpoint).
type member struct {
	id      string
	managed bool
	agent   catalog.Agent
}

// workflow staffs an org chart's roles (adding the ids it spawns to
// spawned) and runs its steps in order, each to every member of its role.
func (e *Engine) workflow(ctx context.Context, x *Execution, p config.Pattern, input map[string]string, spawned *[]string) (*aggregate.Outcome, error) {
	staff := map[string][]member{}
	for _, role := range p.Roles {
		members, ids, err := e.staff(ctx, x, p.Name, role)
		*spawned = append(*spawned, ids...)
		if err != nil {
			return nil, fmt.Errorf("role %q: %w", role.Name, err)
		}
		staff[role.Name] = members
	}

	steps := map[string]cty.Value{}
	var last aggregate.Outcome
	for _, step := range p.Steps {
		task, err := render(step.Task, input, steps)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", step.Name, err)
		}
		var out aggregate.Outcome
		i := e.stepStarted(x, step.Name)
		attempt := 0
		for ; ; attempt++ {
			out, err = e.runStep(withStep(ctx, step.Name), x, step, staff[step.Role], task)
			if err == nil || attempt >= step.Retries || ctx.Err() != nil {
				break
			}
			e.log.Warn("step failed; trying again", "execution", x.ID, "step", step.Name, "error", err)
		}
		e.stepEnded(x, i, out, err, attempt+1)
		if err != nil {
			return nil, fmt.Errorf("step %q failed: %w", step.Name, err)
		}
		steps[step.Name] = stepValue(out)
		e.publish(events.StepCompletedData{ExecutionID: x.ID, Pattern: x.Pattern, Step: step.Name, Confidence: out.Confidence})
		last = out
	}
	return &last, nil
}

// stepStarted adds a running step to the execution and returns its index.
func (e *Engine) stepStarted(x *Execution, name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	x.Steps = append(x.Steps, StepResult{Name: name, Status: StatusRunning, StartedAt: time.Now().UTC()})
	e.keepLocked(x)
	return len(x.Steps) - 1
}

func (e *Engine) stepEnded(x *Execution, i int, out aggregate.Outcome, err error, attempts int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.keepLocked(x)
	st := &x.Steps[i]
	st.Attempts, st.DurationMs = attempts, time.Since(st.StartedAt).Milliseconds()
	if err != nil {
		st.Status, st.Error = StatusFailed, err.Error()
		return
	}
	st.Status, st.Result, st.Confidence, st.Reasoning = StatusCompleted, out.Output, out.Confidence, out.Reasoning
}

// staff finds the members of a role: spawns count agents for a managed
// one and waits until they are ready; picks registered agents by
// capability otherwise. It returns the ids it spawned, also on failure.
func (e *Engine) staff(ctx context.Context, x *Execution, pattern string, role config.Role) ([]member, []string, error) {
	if !role.Managed {
		span := e.startSelect(ctx, role.Name, role.Capabilities)
		picked := catalog.Match(e.cat.List(), catalog.Requirement{Capabilities: role.Capabilities, Count: role.Count}, nil)
		var members []member
		for _, a := range picked {
			if a.Healthy {
				members = append(members, member{id: a.ID, agent: a, managed: a.Source == catalog.SourceManaged})
			}
		}
		var err error
		if len(members) < role.Count {
			err = fmt.Errorf("%d of the %d agents with capabilities %s are available", len(members), role.Count, strings.Join(role.Capabilities, ", "))
		}
		endSelect(span, len(members), err)
		return members, nil, err
	}
	return e.spawn(ctx, x, pattern, role.Name, role.AgentType, role.Capabilities, role.Name, role.Count)
}

// spawn starts n managed agents of type typ and waits until they are
// ready. It returns the ids it spawned, also on failure, for cleanup.
func (e *Engine) spawn(ctx context.Context, x *Execution, pattern, name, typ string, caps []string, role string, n int) ([]member, []string, error) {
	if e.managed == nil {
		return nil, nil, errors.New("this host cannot spawn agents for patterns")
	}
	var members []member
	var ids []string
	for i := range n {
		span := e.startSpawn(ctx, typ, role)
		v, err := e.managed.Spawn(ctx, agents.SpawnRequest{
			Name: fmt.Sprintf("%s-%s-%d", pattern, name, i+1), Type: typ, Role: role, Capabilities: caps,
		})
		endSpawn(span, v.ID, v.Runtime, err)
		if err != nil {
			return nil, ids, fmt.Errorf("spawning a %s agent: %w", typ, err)
		}
		ids = append(ids, v.ID)
		e.log.Info("Agent spawned for pattern execution", "agentId", v.ID, "patternName", pattern, "runtime", v.Runtime, "type", typ, "executionId", x.ID)
		members = append(members, member{id: v.ID, managed: true})
	}
	for _, m := range members {
		if err := e.waitReady(ctx, m.id); err != nil {
			return nil, ids, err
		}
	}
	return members, ids, nil
}

func (e *Engine) waitReady(ctx context.Context, id string) error {
	for {
		v, err := e.managed.Get(id)
		if err != nil {
			return err
		}
		switch v.Status {
		case session.StatusReady:
			return nil
		case session.StatusError, session.StatusStopped:
			return fmt.Errorf("agent %s is %s: %s", id, v.Status, v.Error)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("agent %s not ready: %w", id, ctx.Err())
		}
	}
}

// runStep gives task to every member and combines their answers.
func (e *Engine) runStep(ctx context.Context, x *Execution, step config.Step, members []member, task string) (aggregate.Outcome, error) {
	combine, _ := aggregate.ByStrategy(step.Strategy)
	return combine(e.fanOut(ctx, x, members, task))
}

// fanOut gives task to every member at once.
func (e *Engine) fanOut(ctx context.Context, x *Execution, members []member, task string) []aggregate.Result {
	results := make([]aggregate.Result, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.do(ctx, x, m, task)
		}()
	}
	wg.Wait()
	return results
}

// do gives one member the task: a message for a managed agent, a call
// over the Agent protocol for a registered one.
func (e *Engine) do(ctx context.Context, x *Execution, m member, task string) aggregate.Result {
	if m.managed {
		return e.send(ctx, x, m.id, task)
	}
	return e.call(ctx, x, m.agent, task)
}

// send gives a managed agent the task as a message; the reply is its
// result.
func (e *Engine) send(ctx context.Context, x *Execution, id, task string) aggregate.Result {
	start := time.Now()
	ctx, span := e.startTask(ctx, id)
	timeout := 10 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	reply, err := e.managed.Send(ctx, id, task, true, timeout)
	confidence, _ := agentserver.StatedConfidence(reply)
	r := aggregate.Result{AgentID: id, Output: reply, Confidence: confidence, Err: err}
	endTask(span, e.record(ctx, x, r, start), err)
	return r
}

// cleanup deletes the agents an execution spawned, trying again on
// failure and killing at last: none may outlive it.
func (e *Engine) cleanup(ctx context.Context, x *Execution, ids []string) {
	span := e.startCleanup(ctx, ids)
	var failed error
	for _, id := range ids {
		if err := e.stopAgent(x, id); err != nil {
			failed = errors.Join(failed, fmt.Errorf("agent %s: %w", id, err))
		}
	}
	end(span, failed)
}

const stopAttempts = 3

// stopAgent stops agent id, or kills it after failed stops; the error is
// the kill's.
func (e *Engine) stopAgent(x *Execution, id string) error {
	stop := func(force bool, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := e.managed.Delete(ctx, id, agents.StopOptions{Force: force})
		if errors.Is(err, agents.ErrNotFound) {
			return nil // already gone
		}
		return err
	}
	for attempt := 1; attempt <= stopAttempts; attempt++ {
		err := stop(false, agents.DefaultStopTimeout+10*time.Second)
		if err == nil {
			return nil
		}
		e.log.Error("stopping a pattern's agent failed", "execution", x.ID, "agent", id, "attempt", attempt, "error", err)
		if attempt < stopAttempts {
			time.Sleep(time.Duration(attempt) * e.stopRetryDelay)
		}
	}
	if err := stop(true, time.Minute); err != nil {
		e.log.Error("killing a pattern's agent failed", "execution", x.ID, "agent", id, "error", err)
		return err
	}
	e.log.Warn("killed a pattern's agent that would not stop", "execution", x.ID, "agent", id)
	return nil
}

// render fills a step's task from input and earlier steps.
func render(expr hcl.Expression, input map[string]string, steps map[string]cty.Value) (string, error) {
	in := map[string]cty.Value{}
	for k, v := range input {
		in[k] = cty.StringVal(v)
	}
	vars := map[string]cty.Value{"input": cty.ObjectVal(in)}
	if len(steps) > 0 {
		vars["steps"] = cty.ObjectVal(steps)
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: taskFunctions})
	if diags.HasErrors() {
		return "", &InputError{Msg: "the task needs input the request lacks: " + diags.Error()}
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", &InputError{Msg: "the task is not text"}
	}
	return v.AsString(), nil
}

// stepValue is what later steps see of a step: steps.<name>.result, the
// combined answer, and .results, every agent's.
func stepValue(out aggregate.Outcome) cty.Value {
	results := cty.ListValEmpty(cty.String)
	if len(out.Results) > 0 {
		vals := make([]cty.Value, len(out.Results))
		for i, r := range out.Results {
			vals[i] = cty.StringVal(r.Output)
		}
		results = cty.ListVal(vals)
	}
	return cty.ObjectVal(map[string]cty.Value{"result": cty.StringVal(out.Output), "results": results})
}

// taskFunctions are what a task template may call, for working with
// earlier steps' results.
var taskFunctions = map[string]function.Function{
	"length": stdlib.LengthFunc,
	"join":   stdlib.JoinFunc,
	"upper":  stdlib.UpperFunc,
	"lower":  stdlib.LowerFunc,
	"trim":   stdlib.TrimSpaceFunc,
}
