package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/parallax/parallax/host/internal/adapter"
)

// AgentType is an agent_type "<name>" {} block: how the host starts agents
// of one CLI.
type AgentType struct {
	Name string
	// Command replaces the CLI's binary: argv[0], and any fixed args after
	// it. A path with a slash is resolved against the config file's
	// directory; a bare name is looked up on PATH.
	Command []string
	// Args are appended to every agent's argv.
	Args []string
	// Approval is "autonomous" (the default: the CLI's skip-permission
	// flags) or "ask" (the CLI asks, and the question reaches the API).
	Approval string
	// Env is added to every agent of the type; a request's env wins.
	Env map[string]string
	// Preseed writes the CLI's onboarding and trust state into the agent's
	// private home so no first-run screen blocks it. Default true.
	Preseed bool
	// StartTimeout is how long an agent may take to become ready.
	StartTimeout time.Duration
	// ReadyPattern, if set, is matched against the screen's last non-empty
	// row: where it matches, the agent is ready at once, without waiting
	// for a still screen (see adapter.WithReadyPattern).
	ReadyPattern *regexp.Regexp
	DeclRange    hcl.Range
}

const defaultStartTimeout = 60 * time.Second

var agentTypeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command"}, {Name: "args"}, {Name: "approval"}, {Name: "env"}, {Name: "preseed"}, {Name: "start_timeout"}, {Name: "ready_pattern"},
	},
}

// DefaultAgentType is the configuration of a type without a block.
func DefaultAgentType(name string) AgentType {
	return AgentType{Name: name, Approval: "autonomous", Preseed: true, StartTimeout: defaultStartTimeout}
}

func (d *decoder) decodeAgentTypes(blocks []*hcl.Block) map[string]AgentType {
	out := map[string]AgentType{}
	for _, block := range blocks {
		name := block.Labels[0]
		if _, ok := adapter.For(name); !ok {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown agent type",
				Detail:   fmt.Sprintf("agent_type %q: use one of %s.", name, strings.Join(adapter.Types(), ", ")),
				Subject:  block.LabelRanges[0].Ptr(),
			})
			continue
		}
		if prev, ok := out[name]; ok {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate agent type",
				Detail:   fmt.Sprintf("agent_type %q is already defined at line %d; merge the two blocks.", name, prev.DeclRange.Start.Line),
				Subject:  block.DefRange.Ptr(),
			})
			continue
		}
		out[name] = d.decodeAgentType(block)
	}
	return out
}

func (d *decoder) decodeAgentType(block *hcl.Block) AgentType {
	at := DefaultAgentType(block.Labels[0])
	at.DeclRange = block.DefRange
	content, diags := content(block.Body, agentTypeSchema)
	d.report(diags...)
	field := func(name string) string { return fmt.Sprintf("agent_type %q %s", at.Name, name) }
	attrs := content.Attributes

	if attr, ok := attrs["command"]; ok {
		if v, ok := d.strings(attr, field("command")); ok {
			if len(v) == 0 || v[0] == "" {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
					Detail:  field("command") + ` must name a program, such as ["/opt/bin/claude"]; remove it to use the CLI's own name.`,
					Subject: attr.Expr.Range().Ptr()})
			} else {
				if strings.Contains(v[0], "/") {
					if p, err := resolvePath(d.dir, v[0]); err == nil {
						v[0] = p
					}
				}
				at.Command = v
			}
		}
	}
	if attr, ok := attrs["args"]; ok {
		if v, ok := d.strings(attr, field("args")); ok {
			at.Args = v
		}
	}
	if attr, ok := attrs["approval"]; ok {
		if v, ok := d.string(attr, field("approval")); ok {
			if v != "autonomous" && v != "ask" {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid approval",
					Detail:  fmt.Sprintf(`%s is %q; use "autonomous" (skip the CLI's permission prompts) or "ask".`, field("approval"), v),
					Subject: attr.Expr.Range().Ptr()})
			} else {
				at.Approval = v
			}
		}
	}
	if attr, ok := attrs["env"]; ok {
		if v, ok := d.value(attr, cty.Map(cty.String), field("env")); ok {
			at.Env = map[string]string{}
			for k, s := range v.AsValueMap() {
				at.Env[k] = s.AsString()
			}
		}
	}
	if attr, ok := attrs["preseed"]; ok {
		if v, ok := d.bool(attr, field("preseed")); ok {
			at.Preseed = v
		}
	}
	if attr, ok := attrs["start_timeout"]; ok {
		if v, ok := d.string(attr, field("start_timeout")); ok {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid start_timeout",
					Detail:  fmt.Sprintf(`%s is %q; use a duration such as "90s" or "2m".`, field("start_timeout"), v),
					Subject: attr.Expr.Range().Ptr()})
			} else {
				at.StartTimeout = dur
			}
		}
	}
	if attr, ok := attrs["ready_pattern"]; ok {
		if v, ok := d.string(attr, field("ready_pattern")); ok {
			if re, err := adapter.ReadyPattern(field("ready_pattern"), v); err != nil {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ready_pattern",
					Detail: err.Error() + ".", Subject: attr.Expr.Range().Ptr()})
			} else {
				at.ReadyPattern = re
			}
		}
	}
	return at
}

// strings evaluates attr as a list of strings.
func (d *decoder) strings(attr *hcl.Attribute, field string) ([]string, bool) {
	val, ok := d.value(attr, cty.List(cty.String), field)
	if !ok {
		return nil, false
	}
	var out []string
	for _, v := range val.AsValueSlice() {
		if v.IsNull() {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + attr.Name,
				Detail: field + " must not contain null.", Subject: attr.Expr.Range().Ptr()})
			return nil, false
		}
		out = append(out, v.AsString())
	}
	return out, true
}
