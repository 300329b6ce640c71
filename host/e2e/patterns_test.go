package e2e

import "testing"

// GET /api/patterns shows the config's patterns, checked at start-up.
func TestPatternsAreListed(t *testing.T) {
	h := startHost(t, writeConfigWith(t, "", `pattern "code-review" {
  agents {
    capabilities   = ["code_review"]
    min_confidence = 0.7
    count          = 3
  }
  strategy = "consensus"
  task     = "Review ${input.files}"
}
pattern "feature-team" {
  structure {
    role "architect" {
      agent_type = "claude"
      managed    = true
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
      role = "engineer"
      task = "Implement: ${steps.design.result}"
    }
  }
}`))
	var list []struct {
		Name, Kind, Strategy string
		Agents               *struct{ Count int }
		Roles                []struct{ Name, ReportsTo string }
		Steps                []struct {
			Name  string
			After []string
		}
	}
	h.do("GET", "/api/patterns", nil, &list)
	if len(list) != 2 || list[0].Name != "code-review" || list[0].Kind != "capability" || list[0].Agents == nil || list[0].Agents.Count != 3 ||
		list[1].Kind != "org-chart" || len(list[1].Roles) != 2 || list[1].Roles[1].ReportsTo != "architect" ||
		len(list[1].Steps) != 2 || len(list[1].Steps[1].After) != 1 || list[1].Steps[1].After[0] != "design" {
		t.Errorf("GET /api/patterns = %+v", list)
	}
}
