package e2e

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parallax/parallax/sdk/agent/protocol"
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

// runPattern executes pattern on input through the API, waits until the
// execution ends and decodes it into x.
func (h *host) runPattern(pattern string, input map[string]string, x any) {
	h.t.Helper()
	var started struct{ ExecutionID string }
	if code := h.do("POST", "/api/patterns/"+pattern+"/execute", map[string]any{"input": input}, &started); code != 202 {
		h.t.Fatalf("execute %s: status %d; log:\n%s", pattern, code, h.logs())
	}
	eventually(h.t, "the execution to end", func() bool {
		var st struct{ Status string }
		h.do("GET", "/api/executions/"+started.ExecutionID, nil, &st)
		return st.Status != "running"
	})
	h.do("GET", "/api/executions/"+started.ExecutionID, nil, x)
}

// nothingLeft fails the test if the API still lists an agent, or if a
// process with marker in its command line runs.
func (h *host) nothingLeft(marker string) {
	h.t.Helper()
	var left []agent
	h.do("GET", "/api/managed-agents", nil, &left)
	if len(left) != 0 {
		h.t.Errorf("agents left in the API: %+v", left)
	}
	if n := processesWith(marker); n != 0 {
		h.t.Errorf("%d processes with %q left", n, marker)
	}
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

	var x struct {
		Status, Result, Error string
		Agents                []struct{ AgentID, Result, Error, Step string }
		Steps                 []struct {
			Name, Status, Result string
			Attempts             int
		}
	}
	h.runPattern("feature-team", map[string]string{"feature": "login"}, &x)
	if x.Status != "completed" || len(x.Agents) != 4 || !strings.Contains(x.Result, "reply to: Review 2 parts") {
		t.Fatalf("execution %+v; log:\n%s", x, h.logs())
	}
	perStep := map[string]int{}
	for _, a := range x.Agents {
		perStep[a.Step]++
	}
	if len(x.Steps) != 3 || perStep["design"] != 1 || perStep["implement"] != 2 || perStep["review"] != 1 {
		t.Errorf("steps %+v, agents per step %v", x.Steps, perStep)
	}
	for i, name := range []string{"design", "implement", "review"} {
		if i < len(x.Steps) && (x.Steps[i].Name != name || x.Steps[i].Status != "completed" || x.Steps[i].Attempts != 1 || x.Steps[i].Result == "") {
			t.Errorf("step %d = %+v, want %s completed at the first attempt", i, x.Steps[i], name)
		}
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
	h.nothingLeft(marker)
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
	var x struct{ Status, Error string }
	h.runPattern("broken-team", map[string]string{"feature": "x"}, &x)
	if x.Status != "failed" || !strings.Contains(x.Error, `role "engineer"`) {
		t.Errorf("execution %+v; want failed naming the role", x)
	}
	h.nothingLeft(marker)
}

// crashingClaude is the fake claude, except that a message with "crash"
// makes it exit and one with "slow" makes it sleep for sleepArg seconds.
func crashingClaude(marker, sleepArg string) string {
	return "# " + marker + "\n" + strings.Replace(fakeClaude, `l=${l%\[201~}`,
		`l=${l%\[201~}; case "$l" in *crash*) exit 4;; *slow*) sleep `+sleepArg+`;; esac`, 1)
}

// teamConfig is an org chart of an architect and two engineers whose
// second step's task is given by the input.
func teamConfig(script string) string {
	return teamConfigTimeout(script, "10m")
}

func teamConfigTimeout(script, timeout string) string {
	// A key, so the host doesn't wait for the fake to say it has no
	// login (adapter.LoginLate), which would eat into the timeout.
	return fmt.Sprintf(`agent_type "claude" {
  command = ["/bin/sh", "-c", %s]
  env     = { ANTHROPIC_API_KEY = "sk-ant-FAKE-orgchart-0000" }
}
pattern "team" {
  structure {
    role "architect" {
      agent_type = "claude"
      managed    = true
    }
    role "engineer" {
      agent_type = "claude"
      managed    = true
      count      = 2
    }
  }
  workflow {
    step "design" {
      role = "architect"
      task = "Design it"
    }
    step "implement" {
      role = "engineer"
      task = "${input.how} ${steps.design.result}"
    }
  }
  timeout = %q
}`, hclString(script), timeout)
}

// A step whose agents fail (here their CLI exits on the message) fails
// the execution with the step's name, and every agent is stopped.
func TestOrgChartStepFailureCleansUp(t *testing.T) {
	marker := fmt.Sprintf("orgchart-step-marker-%d", os.Getpid())
	h := startHost(t, writeConfigWith(t, "", teamConfig(crashingClaude(marker, "1"))))
	var x struct {
		Status, Error string
		Agents        []struct{ AgentID, Error string }
		Steps         []struct{ Name, Status, Error string }
	}
	h.runPattern("team", map[string]string{"how": "crash"}, &x)
	if x.Status != "failed" || !strings.Contains(x.Error, `step "implement" failed`) {
		t.Errorf("execution %+v; want failed in step implement; log:\n%s", x, h.logs())
	}
	if len(x.Steps) != 2 || x.Steps[0].Status != "completed" || x.Steps[1].Status != "failed" || x.Steps[1].Error == "" {
		t.Errorf("steps %+v; want design completed, implement failed with its error", x.Steps)
	}
	failed := 0
	for _, a := range x.Agents {
		if a.Error != "" {
			failed++
		}
	}
	if len(x.Agents) != 3 || failed != 2 {
		t.Errorf("agents %+v; want the architect's success and two engineers' errors", x.Agents)
	}
	h.nothingLeft(marker)
}

// SIGTERM while a step runs: the host stops the execution's agents, and
// what they had started, before it exits.
func TestOrgChartSIGTERMMidExecutionLeavesNothing(t *testing.T) {
	marker := fmt.Sprintf("orgchart-term-marker-%d", os.Getpid())
	sleepArg := fmt.Sprint(100000 + os.Getpid()%100000)
	h := startHost(t, writeConfigWith(t, "", teamConfig(crashingClaude(marker, sleepArg))))
	var started struct{ ExecutionID string }
	if code := h.do("POST", "/api/patterns/team/execute", map[string]any{"input": map[string]string{"how": "slow"}}, &started); code != 202 {
		t.Fatalf("execute: %d", code)
	}
	sleeping := "sleep\x00" + sleepArg
	eventually(t, "both engineers busy in the step", func() bool { return processesWith(sleeping) == 2 })
	if n := processesWith(marker); n != 3 {
		t.Fatalf("%d fake claudes running, want 3", n)
	}
	h.stop()
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("host exit code %d after SIGTERM; log:\n%s", code, h.logs())
	}
	if n, m := processesWith(marker), processesWith(sleeping); n+m != 0 {
		t.Errorf("after the host exited: %d fake claudes and %d of their children left; log:\n%s", n, m, h.logs())
	}
	if !strings.Contains(h.logs(), "the host shut down during the execution") {
		t.Errorf("the log does not say why the execution failed; log:\n%s", h.logs())
	}
}

// A capability pattern with agent_type spawns the agents the catalogue
// lacks, gives them the task with the registered ones, and stops them.
func TestCapabilityPatternSpawnsTheRest(t *testing.T) {
	marker := fmt.Sprintf("capability-spawn-marker-%d", os.Getpid())
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "claude" {
  command = ["/bin/sh", "-c", %s]
}
pattern "code-review" {
  agents {
    capabilities = ["code_review"]
    count        = 3
    agent_type   = "claude"
  }
  strategy = "parallel"
  task     = "Review ${input.files}"
}`, hclString("# "+marker+"\n"+fakeClaude))))
	srv := httptest.NewServer(protocol.HTTPHandler(reviewer{0.9}))
	t.Cleanup(srv.Close)
	if code := h.do("POST", "/api/agents", map[string]any{"id": "reviewer", "endpoint": srv.URL, "capabilities": []string{"code_review"}}, nil); code != 201 {
		t.Fatalf("register: %d", code)
	}
	var x struct {
		Status, Error string
		Agents        []struct{ AgentID, Result string }
	}
	h.runPattern("code-review", map[string]string{"files": "auth.ts"}, &x)
	spawned, registered := 0, 0
	for _, a := range x.Agents {
		switch {
		case a.AgentID == "reviewer" && a.Result == "reviewed auth.ts at 0.9":
			registered++
		case strings.Contains(a.Result, "reply to: Review auth.ts"):
			spawned++
		}
	}
	if x.Status != "completed" || registered != 1 || spawned != 2 {
		t.Fatalf("execution %+v; want the registered reviewer and two spawned claudes; log:\n%s", x, h.logs())
	}
	if n := strings.Count(h.logs(), "Agent spawned for pattern execution"); n != 2 {
		t.Errorf("%d spawns logged, want 2", n)
	}
	h.nothingLeft(marker)
}

// Each CLI type's adapter drives the example's fake of that CLI through a
// workflow with fan-out: ready, reply and confidence read off its screen.
func TestOrgChartWithEachCLIType(t *testing.T) {
	script, err := filepath.Abs("../../examples/patterns/fake-agent.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"claude", "codex", "gemini", "aider"} {
		t.Run(typ, func(t *testing.T) {
			h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type %[1]q {
  command = [%[2]s, %[1]q]
}
pattern "pair" {
  structure {
    role "engineer" {
      agent_type = %[1]q
      managed    = true
      count      = 2
    }
  }
  workflow {
    step "implement" {
      role = "engineer"
      task = "Implement ${input.feature}"
    }
    step "review" {
      role     = "engineer"
      strategy = "consensus"
      task     = "Review the ${length(steps.implement.results)} implementations"
    }
  }
}`, typ, hclString(script))))
			var x struct {
				Status, Result, Error string
				Confidence            float64
				Agents                []struct{ Result string }
			}
			h.runPattern("pair", map[string]string{"feature": "login"}, &x)
			if x.Status != "completed" || !strings.HasPrefix(x.Result, "APPROVE") || x.Confidence != 1 || len(x.Agents) != 4 {
				t.Fatalf("execution %+v; log:\n%s", x, h.logs())
			}
			if !strings.HasPrefix(x.Agents[0].Result, "Implemented it as designed") {
				t.Errorf("the implement step's first answer is %q", x.Agents[0].Result)
			}
			h.nothingLeft(script)
		})
	}
}

// An execution that runs past its timeout fails saying so, and its agents,
// busy in the step, are stopped with what they started.
func TestOrgChartTimeoutCleansUp(t *testing.T) {
	marker := fmt.Sprintf("orgchart-timeout-marker-%d", os.Getpid())
	sleepArg := fmt.Sprint(200000 + os.Getpid()%100000)
	h := startHost(t, writeConfigWith(t, "", teamConfigTimeout(crashingClaude(marker, sleepArg), "5s")))
	var x struct{ Status, Error string }
	h.runPattern("team", map[string]string{"how": "slow"}, &x)
	if x.Status != "failed" || !strings.Contains(x.Error, `step "implement" failed`) || !strings.Contains(x.Error, "timed out after 5s") {
		t.Errorf("execution %+v; want failed in step implement at its deadline", x)
	}
	h.nothingLeft(marker)
	h.nothingLeft("sleep\x00" + sleepArg)
}
