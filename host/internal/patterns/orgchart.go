package patterns

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// runOrgChart staffs the roles, runs the workflow's steps in order, each
// to every member of its role, and stops the agents it spawned, however
// the execution ends. The execution ends after that cleanup, so a
// finished execution never has agents still running.
func (e *Engine) runOrgChart(ctx context.Context, x *Execution, p config.Pattern, input map[string]string) {
	var spawned []string
	out, err := e.workflow(ctx, x, p, input, &spawned)
	e.cleanup(ctx, x, spawned)
	if err != nil {
		e.finish(x, nil, err)
		return
	}
	e.finish(x, &out, nil)
}

func (e *Engine) workflow(ctx context.Context, x *Execution, p config.Pattern, input map[string]string, spawned *[]string) (aggregate.Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	staff := map[string][]member{}
	for _, role := range p.Roles {
		members, ids, err := e.staff(ctx, x, p.Name, role)
		*spawned = append(*spawned, ids...)
		if err != nil {
			return aggregate.Outcome{}, fmt.Errorf("role %q: %w", role.Name, err)
		}
		staff[role.Name] = members
	}

	steps := map[string]cty.Value{}
	var last aggregate.Outcome
	for _, step := range p.Steps {
		task, err := render(step.Task, input, steps)
		if err != nil {
			return aggregate.Outcome{}, fmt.Errorf("step %q: %w", step.Name, err)
		}
		var out aggregate.Outcome
		for attempt := 0; ; attempt++ {
			out, err = e.runStep(withStep(ctx, step.Name), x, step, staff[step.Role], task)
			if err == nil || attempt >= step.Retries || ctx.Err() != nil {
				break
			}
			e.log.Warn("step failed; trying again", "execution", x.ID, "step", step.Name, "error", err)
		}
		if err != nil {
			return aggregate.Outcome{}, fmt.Errorf("step %q failed: %w", step.Name, err)
		}
		steps[step.Name] = stepValue(out)
		e.publish(x, "step_completed", map[string]any{"pattern": x.Pattern, "step": step.Name, "confidence": out.Confidence})
		last = out
	}
	return last, nil
}

// staff finds the members of a role: spawns count agents for a managed
// one and waits until they are ready; picks registered agents by
// capability otherwise. It returns the ids it spawned, also on failure.
func (e *Engine) staff(ctx context.Context, x *Execution, pattern string, role config.Role) ([]member, []string, error) {
	if !role.Managed {
		sel := e.startSelect(ctx, role.Name, role.Capabilities)
		picked := catalog.Match(e.cat.List(), catalog.Requirement{Capabilities: role.Capabilities, Count: role.Count}, nil)
		var members []member
		for _, a := range picked {
			if a.Healthy {
				members = append(members, member{id: a.ID, agent: a, managed: a.Source == catalog.SourceManaged})
			}
		}
		if len(members) < role.Count {
			err := fmt.Errorf("%d of the %d agents with capabilities %s are available", len(members), role.Count, strings.Join(role.Capabilities, ", "))
			endSelect(sel, len(members), err)
			return nil, nil, err
		}
		endSelect(sel, len(members), nil)
		return members, nil, nil
	}
	if e.managed == nil {
		return nil, nil, errors.New("this host cannot spawn agents for patterns")
	}
	var members []member
	var ids []string
	for i := range role.Count {
		span := e.startSpawn(ctx, role.AgentType, role.Name)
		v, err := e.managed.Spawn(ctx, agents.SpawnRequest{
			Name: fmt.Sprintf("%s-%s-%d", pattern, role.Name, i+1), Type: role.AgentType, Role: role.Name, Capabilities: role.Capabilities,
		})
		endSpawn(span, v.ID, v.Runtime, err)
		if err != nil {
			return nil, ids, fmt.Errorf("spawning a %s agent: %w", role.AgentType, err)
		}
		ids = append(ids, v.ID)
		e.log.Info("Agent spawned for pattern execution", "agentId", v.ID, "patternName", pattern, "runtime", v.Runtime, "type", role.AgentType, "executionId", x.ID)
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
		case agents.StatusReady:
			return nil
		case agents.StatusError, agents.StatusStopped:
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
	results := make([]aggregate.Result, len(members))
	done := make(chan struct{}, len(members))
	for i, m := range members {
		go func() {
			defer func() { done <- struct{}{} }()
			if m.managed {
				results[i] = e.send(ctx, x, m.id, task)
				return
			}
			results[i] = e.call(ctx, x, m.agent, task)
		}()
	}
	for range members {
		<-done
	}
	combine, _ := aggregate.ByStrategy(step.Strategy)
	return combine(results)
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
	endTask(span, e.record(x, r, start), err)
	return r
}

// cleanup deletes the agents an execution spawned, trying again on
// failure: none may outlive it.
func (e *Engine) cleanup(ctx context.Context, x *Execution, ids []string) {
	span := e.startCleanup(ctx, ids)
	var failed error
	defer func() { end(span, failed) }()
	for _, id := range ids {
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), agents.DefaultStopTimeout+10*time.Second)
			_, err := e.managed.Delete(ctx, id, agents.StopOptions{})
			cancel()
			if err == nil || errors.Is(err, agents.ErrNotFound) {
				break
			}
			e.log.Error("stopping a pattern's agent failed; trying again", "execution", x.ID, "agent", id, "attempt", attempt, "error", err)
			if attempt == 3 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err = e.managed.Delete(ctx, id, agents.StopOptions{Force: true})
				cancel()
				if err != nil && !errors.Is(err, agents.ErrNotFound) {
					e.log.Error("killing a pattern's agent failed", "execution", x.ID, "agent", id, "error", err)
					failed = errors.Join(failed, fmt.Errorf("agent %s: %w", id, err))
				}
				break
			}
		}
	}
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
