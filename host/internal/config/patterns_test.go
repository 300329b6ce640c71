package config

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const designExample = `runtime "local" {}
pattern "code-review" {
  agents {
    capabilities   = ["code_review"]
    min_confidence = 0.7
    count          = 3
    agent_type     = "claude"
  }
  strategy = "consensus"
  task     = "Review ${input.files} for security issues"
  timeout  = "5m"
}
pattern "feature-team" {
  structure {
    role "architect" {
      agent_type   = "claude"
      managed      = true
      capabilities = ["architecture"]
    }
    role "engineer" {
      agent_type = "codex"
      managed    = true
      reports_to = "architect"
      count      = 2
    }
  }
  workflow {
    step "design" {
      role = "architect"
      task = "Design ${input.feature}"
    }
    step "implement" {
      role    = "engineer"
      task    = "Implement: ${steps.design.result}"
      retries = 1
    }
  }
}
`

func TestLoadPatterns(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, designExample, "local"))
	cr := cfg.Patterns["code-review"]
	if cr.Agents == nil || !slices.Equal(cr.Agents.Capabilities, []string{"code_review"}) || cr.Agents.MinConfidence != 0.7 ||
		cr.Agents.Count != 3 || cr.Agents.AgentType != "claude" || cr.Strategy != "consensus" || cr.Timeout != 5*time.Minute || cr.Task == nil {
		t.Errorf("code-review = %+v, agents %+v", cr, cr.Agents)
	}
	ft := cfg.Patterns["feature-team"]
	if len(ft.Roles) != 2 || ft.Roles[1].ReportsTo != "architect" || ft.Roles[1].Count != 2 || !ft.Roles[0].Managed {
		t.Errorf("roles %+v", ft.Roles)
	}
	if len(ft.Steps) != 2 || ft.Steps[1].Role != "engineer" || !slices.Equal(ft.Steps[1].After, []string{"design"}) || ft.Steps[1].Retries != 1 {
		t.Errorf("steps %+v", ft.Steps)
	}
}

func TestPatternErrors(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	chart := func(roles, steps string) string {
		return local + "pattern \"p\" {\n  structure {\n" + roles + "  }\n  workflow {\n" + steps + "  }\n}\n"
	}
	const archRole = "    role \"a\" {\n      agent_type = \"claude\"\n      managed = true\n    }\n"
	tests := []struct {
		name, src, summary, detail, pos string
	}{
		{"bad strategy", local + "pattern \"p\" {\n  agents { capabilities = [\"x\"] }\n  strategy = \"vote\"\n  task = \"t\"\n}\n",
			"Invalid strategy", "parallel, sequential, consensus, best", "4:14"},
		{"unknown agent type to spawn", local + "pattern \"p\" {\n  agents {\n    capabilities = [\"x\"]\n    agent_type = \"gpt\"\n  }\n  task = \"t\"\n}\n",
			"Unknown agent type", `pattern "p" agents agent_type is "gpt"; use one of aider, claude`, "5:18"},
		{"capability pattern without task", local + "pattern \"p\" {\n  agents { capabilities = [\"x\"] }\n}\n",
			"Missing task", "${input.<name>}", "2:1"},
		{"unknown reference in task", local + "pattern \"p\" {\n  agents { capabilities = [\"x\"] }\n  task = \"Do ${env.HOME}\"\n}\n",
			"Unknown reference", `"env"`, "4:16"},
		{"cycle in reports_to", chart(
			"    role \"a\" {\n      agent_type = \"claude\"\n      managed = true\n      reports_to = \"b\"\n    }\n"+
				"    role \"b\" {\n      agent_type = \"codex\"\n      managed = true\n      reports_to = \"a\"\n    }\n",
			"    step \"s\" {\n      role = \"a\"\n      task = \"t\"\n    }\n"),
			"Cycle in reports_to", "a reports to b reports to a", "4:5"},
		{"unknown manager", chart(
			"    role \"a\" {\n      agent_type = \"claude\"\n      managed = true\n      reports_to = \"boss\"\n    }\n",
			"    step \"s\" {\n      role = \"a\"\n      task = \"t\"\n    }\n"),
			"Unknown role", `"boss"`, "4:5"},
		{"step of an unknown role", chart(archRole, "    step \"s\" {\n      role = \"qa\"\n      task = \"t\"\n    }\n"),
			"Unknown role", "the roles are a", "11:14"},
		{"reference to a later step", chart(archRole,
			"    step \"s1\" {\n      role = \"a\"\n      task = \"${steps.s2.result}\"\n    }\n    step \"s2\" {\n      role = \"a\"\n      task = \"t\"\n    }\n"),
			"Unknown step", "(it is the first step)", "12:17"},
		{"reference to a missing step", chart(archRole,
			"    step \"s1\" {\n      role = \"a\"\n      task = \"t\"\n    }\n    step \"s2\" {\n      role = \"a\"\n      task = \"${steps.nope.result}\"\n    }\n"),
			"Unknown step", "earlier steps are s1", "16:17"},
		{"managed role without type", chart("    role \"a\" {\n      managed = true\n    }\n", "    step \"s\" {\n      role = \"a\"\n      task = \"t\"\n    }\n"),
			"Missing agent_type", "agent_type = \"claude\"", "4:5"},
		{"org chart without workflow", local + "pattern \"p\" {\n  structure {\n" + archRole + "  }\n}\n",
			"Incomplete org chart", "workflow", "2:1"},
		{"empty pattern", local + "pattern \"p\" {\n}\n", "Empty pattern", "structure {}", "2:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(writeConfig(t, tt.src, "local"))
			wantDiagnostic(t, diags, tt.summary, tt.detail, tt.pos)
		})
	}
}

func posOf(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
}
