package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

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

// A capability pattern runs over registered agents, here on the real Agent
// protocol in this process, through the REST API.
func TestCapabilityPatternExecutes(t *testing.T) {
	h := startHost(t, writeConfigWith(t, "", `pattern "code-review" {
  agents {
    capabilities = ["code_review"]
    count        = 2
  }
  strategy = "best"
  task     = "Review ${input.files}"
}`))
	for i, conf := range []float64{0.4, 0.9} {
		srv := httptest.NewServer(protocol.HTTPHandler(reviewer{conf}))
		t.Cleanup(srv.Close)
		if code := h.do("POST", "/api/agents", map[string]any{"id": fmt.Sprintf("reviewer-%d", i), "endpoint": srv.URL, "capabilities": []string{"code_review"}}, nil); code != 201 {
			t.Fatalf("register: %d", code)
		}
	}
	var x struct {
		Status, Result, Error string
		Confidence            float64
		Agents                []struct{ AgentID string }
	}
	h.runPattern("code-review", map[string]string{"files": "auth.ts"}, &x)
	if x.Status != "completed" || x.Result != "reviewed auth.ts at 0.9" || x.Confidence != 0.9 || len(x.Agents) != 2 {
		t.Errorf("execution %+v", x)
	}
	if code := h.do("POST", "/api/patterns/code-review/execute", map[string]any{"input": map[string]string{}}, nil); code != 400 {
		t.Errorf("execute without the input the task needs: %d, want 400", code)
	}
	if code := h.do("POST", "/api/patterns/nope/execute", map[string]any{}, nil); code != 404 {
		t.Errorf("execute an unknown pattern: %d, want 404", code)
	}
}

type reviewer struct{ confidence float64 }

func (r reviewer) Execute(_ context.Context, t protocol.Task, _ io.Writer) (protocol.Result, error) {
	return protocol.Result{Result: []byte(fmt.Sprintf("reviewed %s at %v", strings.TrimPrefix(t.Description, "Review "), r.confidence)), Confidence: r.confidence}, nil
}

func (reviewer) Health(context.Context) protocol.Health { return protocol.Health{Healthy: true} }

// parallax-host execute runs a pattern from the command line, showing
// progress on stderr and the result on stdout.
func TestExecuteCommand(t *testing.T) {
	h := startHost(t, writeConfigWith(t, "", `pattern "code-review" {
  agents {
    capabilities = ["code_review"]
    count        = 1
  }
  strategy = "best"
  task     = "Review ${input.files}"
}`))
	srv := httptest.NewServer(protocol.HTTPHandler(reviewer{0.75}))
	t.Cleanup(srv.Close)
	if code := h.do("POST", "/api/agents", map[string]any{"id": "reviewer", "endpoint": srv.URL, "capabilities": []string{"code_review"}}, nil); code != 201 {
		t.Fatalf("register: %d", code)
	}
	stdout, stderr, code := h.cli("execute", "code-review", "--input", "files=auth.ts")
	if code != 0 || stdout != "reviewed auth.ts at 0.75\n" || !strings.Contains(stderr, "started") || !strings.Contains(stderr, "completed") {
		t.Errorf("execute: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	// Without the input the task needs: the API's message, exit 1.
	_, stderr, code = h.cli("execute", "code-review")
	if code != 1 || !strings.Contains(stderr, "files") {
		t.Errorf("execute without input: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code = h.cli("execute", "code-review", "--input", "no-equals"); code == 0 || !strings.Contains(stderr, "name=value") {
		t.Errorf("a bad --input: exit %d, stderr %q", code, stderr)
	}
}
