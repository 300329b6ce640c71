package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/parallax/parallax/host/internal/adapter"
)

// Pattern is a pattern "<name>" {} block: what a pattern execution does.
// A capability pattern has Agents and a Task; an org chart has Roles and
// Steps.
type Pattern struct {
	Name string
	// Agents picks registered agents by capability.
	Agents *AgentSelector
	// Strategy combines the agents' results: parallel, sequential,
	// consensus or best.
	Strategy string
	// Task is a template over input (the execution's input) for a
	// capability pattern; nil for an org chart.
	Task    hcl.Expression
	Timeout time.Duration
	Roles   []Role
	Steps   []Step
	// DeclRange is where the block starts, for diagnostics.
	DeclRange hcl.Range
}

// AgentSelector is a capability pattern's agents {} block.
type AgentSelector struct {
	Capabilities  []string
	MinConfidence float64
	Count         int
	// AgentType, when set, is spawned (as managed agents) to make up
	// Count when the catalogue has too few.
	AgentType string
}

// Role is one role "<name>" {} of an org chart's structure.
type Role struct {
	Name         string
	AgentType    string
	Managed      bool
	Capabilities []string
	Count        int
	ReportsTo    string
	DeclRange    hcl.Range
}

// Step is one step "<name>" {} of an org chart's workflow. It goes to
// every agent of its role; Strategy combines their results.
type Step struct {
	Name     string
	Role     string
	Task     hcl.Expression // a template over input and earlier steps
	Strategy string
	Retries  int
	// After lists the earlier steps Task refers to.
	After     []string
	DeclRange hcl.Range
}

// Strategies are the ways to combine results.
var Strategies = []string{"parallel", "sequential", "consensus", "best"}

const defaultPatternTimeout = 10 * time.Minute

var (
	patternSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "strategy"}, {Name: "task"}, {Name: "timeout"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "agents"}, {Type: "structure"}, {Type: "workflow"}},
	}
	selectorSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "capabilities", Required: true}, {Name: "min_confidence"}, {Name: "count"}, {Name: "agent_type"}},
	}
	structureSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "role", LabelNames: []string{"name"}}}}
	roleSchema      = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "agent_type"}, {Name: "managed"}, {Name: "capabilities"}, {Name: "count"}, {Name: "reports_to"}},
	}
	workflowSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "step", LabelNames: []string{"name"}}}}
	stepSchema     = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "role", Required: true}, {Name: "task", Required: true}, {Name: "strategy"}, {Name: "retries"}},
	}
)

func (d *decoder) decodePatterns(blocks []*hcl.Block) map[string]Pattern {
	out := map[string]Pattern{}
	for _, block := range blocks {
		name := block.Labels[0]
		if prev, ok := out[name]; ok {
			d.errorAt(block.DefRange, "Duplicate pattern", fmt.Sprintf("pattern %q is already defined at line %d; rename one.", name, prev.DeclRange.Start.Line))
			continue
		}
		out[name] = d.decodePattern(block)
	}
	return out
}

func (d *decoder) errorAt(r hcl.Range, summary, detail string) {
	d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()})
}

func (d *decoder) decodePattern(block *hcl.Block) Pattern {
	p := Pattern{Name: block.Labels[0], Strategy: "parallel", Timeout: defaultPatternTimeout, DeclRange: block.DefRange}
	body, diags := content(block.Body, patternSchema)
	d.report(diags...)
	field := func(name string) string { return fmt.Sprintf("pattern %q %s", p.Name, name) }

	if attr, ok := body.Attributes["strategy"]; ok {
		if v, ok := d.string(attr, field("strategy")); ok {
			if d.checkStrategy(attr, field("strategy"), v) {
				p.Strategy = v
			}
		}
	}
	if attr, ok := body.Attributes["timeout"]; ok {
		if v, ok := d.string(attr, field("timeout")); ok {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 {
				d.errorAt(attr.Expr.Range(), "Invalid timeout", fmt.Sprintf(`%s is %q; use a duration such as "10m".`, field("timeout"), v))
			} else {
				p.Timeout = dur
			}
		}
	}
	var agents, structure, workflow []*hcl.Block
	for _, b := range body.Blocks {
		switch b.Type {
		case "agents":
			agents = append(agents, b)
		case "structure":
			structure = append(structure, b)
		case "workflow":
			workflow = append(workflow, b)
		}
	}
	for _, extra := range slices.Concat(after1(agents), after1(structure), after1(workflow)) {
		d.errorAt(extra.DefRange, "Duplicate block", fmt.Sprintf("%s has more than one %s block; merge them.", field(""), extra.Type))
	}
	task := body.Attributes["task"]
	switch {
	case len(agents) > 0 && (len(structure) > 0 || len(workflow) > 0):
		d.errorAt(block.DefRange, "Mixed pattern", field("")+"has both agents {} (a capability pattern) and structure {} or workflow {} (an org chart); keep one kind.")
	case len(agents) > 0:
		p.Agents = d.decodeSelector(agents[0], field("agents"))
		if task == nil {
			d.errorAt(block.DefRange, "Missing task", field("")+`needs task = "…": what the agents are asked, with ${input.<name>} for the execution's input.`)
		} else {
			p.Task = task.Expr
			d.checkTemplate(task.Expr, field("task"), nil)
		}
	case len(structure) > 0 || len(workflow) > 0:
		if len(structure) == 0 || len(workflow) == 0 {
			d.errorAt(block.DefRange, "Incomplete org chart", field("")+"needs both structure {} with its roles and workflow {} with its steps.")
			return p
		}
		if task != nil {
			d.errorAt(task.NameRange, "Task on an org chart", field("task")+" belongs in the workflow's steps; remove it here.")
		}
		p.Roles = d.decodeRoles(structure[0], p.Name)
		p.Steps = d.decodeSteps(workflow[0], p.Name, p.Roles)
	default:
		d.errorAt(block.DefRange, "Empty pattern", field("")+"needs agents {} and a task (a capability pattern), or structure {} and workflow {} (an org chart).")
	}
	return p
}

func after1(bs []*hcl.Block) []*hcl.Block {
	if len(bs) < 2 {
		return nil
	}
	return bs[1:]
}

func (d *decoder) checkStrategy(attr *hcl.Attribute, field, v string) bool {
	if slices.Contains(Strategies, v) {
		return true
	}
	d.errorAt(attr.Expr.Range(), "Invalid strategy", fmt.Sprintf("%s is %q; use one of %s.", field, v, strings.Join(Strategies, ", ")))
	return false
}

func (d *decoder) decodeSelector(block *hcl.Block, field string) *AgentSelector {
	s := &AgentSelector{Count: 1}
	body, diags := content(block.Body, selectorSchema)
	d.report(diags...)
	if attr, ok := body.Attributes["capabilities"]; ok {
		s.Capabilities, _ = d.strings(attr, field+" capabilities")
	}
	if attr, ok := body.Attributes["min_confidence"]; ok {
		if v, ok := d.value(attr, cty.Number, field+" min_confidence"); ok {
			f, _ := v.AsBigFloat().Float64()
			if f < 0 || f > 1 {
				d.errorAt(attr.Expr.Range(), "Invalid min_confidence", fmt.Sprintf("%s min_confidence is %v; use a number from 0 to 1.", field, f))
			}
			s.MinConfidence = f
		}
	}
	if attr, ok := body.Attributes["count"]; ok {
		s.Count, _ = d.wholeNumber(attr, field+" count", 1, 100)
	}
	if attr, ok := body.Attributes["agent_type"]; ok {
		s.AgentType, _ = d.agentType(attr, field+" agent_type")
	}
	return s
}

func (d *decoder) agentType(attr *hcl.Attribute, field string) (string, bool) {
	v, ok := d.string(attr, field)
	if !ok {
		return "", false
	}
	if _, ok := adapter.For(v); !ok {
		d.errorAt(attr.Expr.Range(), "Unknown agent type", fmt.Sprintf("%s is %q; use one of %s.", field, v, strings.Join(adapter.Types(), ", ")))
		return v, false
	}
	return v, true
}

func (d *decoder) decodeRoles(block *hcl.Block, pattern string) []Role {
	body, diags := content(block.Body, structureSchema)
	d.report(diags...)
	var roles []Role
	for _, b := range body.Blocks {
		r := Role{Name: b.Labels[0], Count: 1, DeclRange: b.DefRange}
		field := func(name string) string { return fmt.Sprintf("pattern %q role %q %s", pattern, r.Name, name) }
		if slices.ContainsFunc(roles, func(x Role) bool { return x.Name == r.Name }) {
			d.errorAt(b.DefRange, "Duplicate role", fmt.Sprintf("pattern %q has two roles %q; rename one.", pattern, r.Name))
			continue
		}
		rc, diags := content(b.Body, roleSchema)
		d.report(diags...)
		if attr, ok := rc.Attributes["agent_type"]; ok {
			r.AgentType, _ = d.agentType(attr, field("agent_type"))
		}
		if attr, ok := rc.Attributes["managed"]; ok {
			r.Managed, _ = d.bool(attr, field("managed"))
		}
		if attr, ok := rc.Attributes["capabilities"]; ok {
			r.Capabilities, _ = d.strings(attr, field("capabilities"))
		}
		if attr, ok := rc.Attributes["count"]; ok {
			r.Count, _ = d.wholeNumber(attr, field("count"), 1, 100)
		}
		if attr, ok := rc.Attributes["reports_to"]; ok {
			r.ReportsTo, _ = d.string(attr, field("reports_to"))
		}
		if r.Managed && r.AgentType == "" {
			d.errorAt(b.DefRange, "Missing agent_type", field("")+"is managed, so the host spawns its agents: say which, like agent_type = \"claude\".")
		}
		if !r.Managed && len(r.Capabilities) == 0 {
			d.errorAt(b.DefRange, "Missing capabilities", field("")+"is not managed, so its agents come from the catalogue: list the capabilities they need.")
		}
		roles = append(roles, r)
	}
	if len(roles) == 0 {
		d.errorAt(block.DefRange, "No roles", fmt.Sprintf("pattern %q structure {} has no role blocks.", pattern))
	}
	d.checkReportsTo(roles, pattern)
	return roles
}

// checkReportsTo reports unknown managers and cycles in reports_to.
func (d *decoder) checkReportsTo(roles []Role, pattern string) {
	manager := map[string]string{}
	known := map[string]bool{}
	for _, r := range roles {
		known[r.Name] = true
		manager[r.Name] = r.ReportsTo
	}
	inCycle := map[string]bool{} // each cycle is reported once
	for _, r := range roles {
		if inCycle[r.Name] {
			continue
		}
		if r.ReportsTo != "" && !known[r.ReportsTo] {
			d.errorAt(r.DeclRange, "Unknown role", fmt.Sprintf("pattern %q role %q reports_to %q, which is not a role here.", pattern, r.Name, r.ReportsTo))
			continue
		}
		// Walk up; coming back to r is a cycle.
		chain := []string{r.Name}
		for at := r.ReportsTo; at != ""; at = manager[at] {
			chain = append(chain, at)
			if at == r.Name {
				for _, name := range chain {
					inCycle[name] = true
				}
				d.errorAt(r.DeclRange, "Cycle in reports_to", fmt.Sprintf("pattern %q: %s; someone must report to nobody.", pattern, strings.Join(chain, " reports to ")))
				break
			}
			if len(chain) > len(roles) {
				break // a cycle above r, reported at its own roles
			}
		}
	}
}

func (d *decoder) decodeSteps(block *hcl.Block, pattern string, roles []Role) []Step {
	body, diags := content(block.Body, workflowSchema)
	d.report(diags...)
	var steps []Step
	for _, b := range body.Blocks {
		s := Step{Name: b.Labels[0], Strategy: "parallel", DeclRange: b.DefRange}
		field := func(name string) string { return fmt.Sprintf("pattern %q step %q %s", pattern, s.Name, name) }
		if slices.ContainsFunc(steps, func(x Step) bool { return x.Name == s.Name }) {
			d.errorAt(b.DefRange, "Duplicate step", fmt.Sprintf("pattern %q has two steps %q; rename one.", pattern, s.Name))
			continue
		}
		sc, diags := content(b.Body, stepSchema)
		d.report(diags...)
		if attr, ok := sc.Attributes["role"]; ok {
			if v, ok := d.string(attr, field("role")); ok {
				if !slices.ContainsFunc(roles, func(r Role) bool { return r.Name == v }) {
					names := make([]string, len(roles))
					for i, r := range roles {
						names[i] = r.Name
					}
					d.errorAt(attr.Expr.Range(), "Unknown role", fmt.Sprintf("%s is %q; the roles are %s.", field("role"), v, strings.Join(names, ", ")))
				}
				s.Role = v
			}
		}
		if attr, ok := sc.Attributes["strategy"]; ok {
			if v, ok := d.string(attr, field("strategy")); ok && d.checkStrategy(attr, field("strategy"), v) {
				s.Strategy = v
			}
		}
		if attr, ok := sc.Attributes["retries"]; ok {
			s.Retries, _ = d.wholeNumber(attr, field("retries"), 0, 10)
		}
		if attr, ok := sc.Attributes["task"]; ok {
			s.Task = attr.Expr
			earlier := make([]string, len(steps))
			for i, st := range steps {
				earlier[i] = st.Name
			}
			s.After = d.checkTemplate(attr.Expr, field("task"), earlier)
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		d.errorAt(block.DefRange, "No steps", fmt.Sprintf("pattern %q workflow {} has no step blocks.", pattern))
	}
	return steps
}

// checkTemplate checks what a task refers to: input.<name>, and, where
// steps is not nil, steps.<earlier step>.result. It returns the steps
// referred to.
func (d *decoder) checkTemplate(expr hcl.Expression, field string, steps []string) []string {
	var after []string
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		switch {
		case root == "input":
			if len(tr) < 2 {
				d.errorAt(tr.SourceRange(), "Incomplete reference", field+" uses input alone; name the input, like ${input.files}.")
			}
		case root == "steps" && steps != nil:
			name, ok := traverseName(tr, 1)
			attr, _ := traverseName(tr, 2)
			switch {
			case !ok:
				d.errorAt(tr.SourceRange(), "Incomplete reference", field+" uses steps alone; name the step, like ${steps.design.result}.")
			case !slices.Contains(steps, name):
				d.errorAt(tr.SourceRange(), "Unknown step", fmt.Sprintf("%s refers to step %q, which is not a step before this one%s.", field, name, listOr(steps)))
			case attr != "result" && attr != "results":
				d.errorAt(tr.SourceRange(), "Unknown step attribute", fmt.Sprintf("%s uses steps.%s.%s; a step has result (the combined answer) and results (every agent's).", field, name, attr))
			default:
				if !slices.Contains(after, name) {
					after = append(after, name)
				}
			}
		default:
			what := "input.<name>"
			if steps != nil {
				what += " and steps.<earlier step>.result"
			}
			d.errorAt(tr.SourceRange(), "Unknown reference", fmt.Sprintf("%s refers to %q; a task can use %s.", field, root, what))
		}
	}
	return after
}

func traverseName(tr hcl.Traversal, i int) (string, bool) {
	if len(tr) <= i {
		return "", false
	}
	if a, ok := tr[i].(hcl.TraverseAttr); ok {
		return a.Name, true
	}
	return "", false
}

func listOr(steps []string) string {
	if len(steps) == 0 {
		return " (it is the first step)"
	}
	return "; earlier steps are " + strings.Join(steps, ", ")
}
