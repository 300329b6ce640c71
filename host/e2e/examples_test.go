package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parallax/parallax/sdk/agent/registry/registrytest"
)

// The example patterns run as shipped, with their fake agents, through
// the CLI a user would type; only the address and paths are the test's.
func TestExamplePatternsRun(t *testing.T) {
	dir, err := filepath.Abs("../../examples/patterns")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "config.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "fake-agent.sh")
	cfg := string(src)
	for _, r := range [][2]string{
		{`listen   = "127.0.0.1:3000"`, `listen = "127.0.0.1:0"`},
		{`data_dir = "../../.parallax"`, `data_dir = ` + hclString(t.TempDir())},
		{`plugin_dir = "../../bin/plugins"`, `plugin_dir = ` + hclString(bins.plugins)},
		{`"./fake-agent.sh"`, hclString(script)},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("the example config no longer has %s; update this test", r[0])
		}
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	path := filepath.Join(t.TempDir(), "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, path)

	tests := []struct {
		pattern, input string
		wantOut        string   // in stdout: the result
		wantProgress   []string // in stderr
	}{
		{"code-review", "files=auth.ts", "APPROVE", []string{"started", "completed"}},
		{"feature-team", "feature=password reset", "APPROVE", []string{"design", "implement", "review", "completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			stdout, stderr, code := h.cli("execute", tt.pattern, "--input", tt.input)
			if code != 0 || !strings.Contains(stdout, tt.wantOut) {
				t.Fatalf("execute %s: exit %d\nstdout %q\nstderr %q\nlog:\n%s", tt.pattern, code, stdout, stderr, h.logs())
			}
			for _, w := range tt.wantProgress {
				if !strings.Contains(stderr, w) {
					t.Errorf("progress lacks %q: %q", w, stderr)
				}
			}
			h.nothingLeft(script)
		})
	}
}

// A capability pattern over the example agents (examples/agent-http and
// agent-grpc), built and run as a user would, registered in a real etcd
// and called over HTTP and gRPC.
func TestCapabilityPatternOverTheExampleAgents(t *testing.T) {
	cli := registrytest.Start(t)
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`registry "etcd" {
  endpoints = [%q]
}
pattern "review" {
  agents {
    capabilities = ["review"]
    count        = 2
  }
  strategy = "parallel"
  task     = "Review ${input.files}"
}`, cli.Endpoints()[0])))
	for _, name := range []string{"agent-http", "agent-grpc"} {
		bin := filepath.Join(t.TempDir(), name)
		if out, err := exec.Command("go", "build", "-o", bin, "../../examples/"+name).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
		cmd := exec.Command(bin, "-etcd", cli.Endpoints()[0], "-id", name, "-capabilities", "review")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	eventually(t, "both example agents in the catalogue", func() bool {
		var list []catalogAgent
		h.do("GET", "/api/agents?source=etcd", nil, &list)
		return len(list) == 2
	})

	var x struct {
		Status, Error string
		Agents        []struct{ AgentID, Result, Error string }
	}
	h.runPattern("review", map[string]string{"files": "auth.ts"}, &x)
	got := map[string]string{}
	for _, a := range x.Agents {
		got[a.AgentID] = a.Result + a.Error
	}
	// agent-http shouts the task back; agent-grpc counts its words.
	if x.Status != "completed" || got["agent-http"] != "REVIEW AUTH.TS" || got["agent-grpc"] != "2" {
		t.Errorf("execution %+v", x)
	}
}
