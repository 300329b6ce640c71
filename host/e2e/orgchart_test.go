package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// processesWith counts this machine's processes whose command line holds
// marker: what the runtime really runs, whatever the API says.
func processesWith(marker string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), marker) {
			n++
		}
	}
	return n
}

// hclString quotes s for HCL, where ${ and %{ start templates.
func hclString(s string) string {
	q := fmt.Sprintf("%q", s)
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(q)
}

// An org chart spawns its managed agents (fake claudes on runtime-local),
// runs a three-step workflow with fan-out, and leaves no agent behind.
func TestOrgChartSpawnsRunsAndCleansUp(t *testing.T) {
	marker := fmt.Sprintf("orgchart-marker-%d", os.Getpid())
	script := "# " + marker + "\n" + fakeClaude
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "claude" {
  command = ["/bin/sh", "-c", %s]
}
pattern "feature-team" {
  structure {
    role "architect" {
      agent_type = "claude"
      managed    = true
    }
    role "engineer" {
      agent_type = "claude"
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
      task = "Implement ${steps.design.result}"
    }
    step "review" {
      role = "architect"
      task = "Review ${length(steps.implement.results)} parts"
    }
  }
  timeout = "3m"
}`, hclString(script))))

	var started struct{ ExecutionID string }
	if code := h.do("POST", "/api/patterns/feature-team/execute", map[string]any{"input": map[string]string{"feature": "login"}}, &started); code != 202 {
		t.Fatalf("execute: %d; log:\n%s", code, h.logs())
	}
	var x struct {
		Status, Result, Error string
		Agents                []struct{ AgentID, Result, Error string }
	}
	eventually(t, "the execution to end", func() bool {
		h.do("GET", "/api/executions/"+started.ExecutionID, nil, &x)
		return x.Status != "running"
	})
	if x.Status != "completed" || len(x.Agents) != 4 || !strings.Contains(x.Result, "reply to: Review 2 parts") {
		t.Fatalf("execution %+v; log:\n%s", x, h.logs())
	}
	implemented := 0
	for _, a := range x.Agents {
		// The design's reply, passed on to each engineer, comes back in theirs.
		if strings.Count(a.Result, "reply to:") == 2 && strings.Contains(a.Result, "Design login") {
			implemented++
		}
	}
	if implemented != 2 {
		t.Errorf("%d engineers got the design's result; want both: %+v", implemented, x.Agents)
	}
	var left []agent
	h.do("GET", "/api/managed-agents", nil, &left)
	if len(left) != 0 {
		t.Errorf("agents left in the API: %+v", left)
	}
	eventually(t, "no fake claude process left", func() bool { return processesWith(marker) == 0 })
}

// When staffing fails (an engineer's CLI dies at start), the execution
// fails with the reason and the agents already spawned are stopped.
func TestOrgChartFailureCleansUp(t *testing.T) {
	marker := fmt.Sprintf("orgchart-fail-marker-%d", os.Getpid())
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "claude" {
  command = ["/bin/sh", "-c", %s]
}
agent_type "codex" {
  command = ["/bin/sh", "-c", "echo 'codex: cannot start' >&2; exit 3"]
}
pattern "broken-team" {
  structure {
    role "architect" {
      agent_type = "claude"
      managed    = true
    }
    role "engineer" {
      agent_type = "codex"
      managed    = true
    }
  }
  workflow {
    step "design" {
      role = "architect"
      task = "Design ${input.feature}"
    }
  }
}`, hclString("# "+marker+"\n"+fakeClaude))))
	var started struct{ ExecutionID string }
	if code := h.do("POST", "/api/patterns/broken-team/execute", map[string]any{"input": map[string]string{"feature": "x"}}, &started); code != 202 {
		t.Fatalf("execute: %d", code)
	}
	var x struct{ Status, Error string }
	eventually(t, "the execution to end", func() bool {
		h.do("GET", "/api/executions/"+started.ExecutionID, nil, &x)
		return x.Status != "running"
	})
	if x.Status != "failed" || !strings.Contains(x.Error, `role "engineer"`) {
		t.Errorf("execution %+v; want failed naming the role", x)
	}
	var left []agent
	h.do("GET", "/api/managed-agents", nil, &left)
	if len(left) != 0 {
		t.Errorf("agents left in the API: %+v", left)
	}
	if n := processesWith(marker); n != 0 {
		t.Errorf("%d fake claude processes left", n)
	}
}
