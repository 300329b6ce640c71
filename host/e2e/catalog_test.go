package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type catalogAgent struct {
	ID           string   `json:"id"`
	Source       string   `json:"source"`
	Endpoint     string   `json:"endpoint"`
	Capabilities []string `json:"capabilities"`
}

// The catalogue merges PARALLAX_LOCAL_AGENTS, agent blocks, registrations
// through the API and the managed agents.
func TestCatalogMergesItsSources(t *testing.T) {
	path := writeConfigWith(t, "", `agent "from-config" {
  endpoint     = "http://127.0.0.1:9001"
  capabilities = ["testing"]
}`)
	h := startHost(t, path, `PARALLAX_LOCAL_AGENTS=[{"id":"from-env","endpoint":"grpc://127.0.0.1:9002","capabilities":["code_review"]}]`)
	if code := h.do("POST", "/api/agents", map[string]any{"id": "from-api", "endpoint": "http://127.0.0.1:9003"}, nil); code != 201 {
		t.Fatalf("register: %d", code)
	}
	managed := h.spawnShell("managed-one", map[string]any{"capabilities": []string{"shell"}})

	var list []catalogAgent
	h.do("GET", "/api/agents", nil, &list)
	got := map[string]string{}
	for _, a := range list {
		got[a.ID] = a.Source
	}
	want := map[string]string{"from-config": "config", "from-env": "env", "from-api": "api", managed.ID: "managed"}
	for id, source := range want {
		if got[id] != source {
			t.Errorf("catalogue %v: want %s from %s", got, id, source)
		}
	}
	var shells []catalogAgent
	h.do("GET", "/api/agents?capability=shell", nil, &shells)
	if len(shells) != 1 || shells[0].ID != managed.ID {
		t.Errorf("by capability: %+v; want the managed agent", shells)
	}
}

// A bad PARALLAX_LOCAL_AGENTS stops the host at start, naming the entry
// and field.
func TestBadLocalAgentsStopTheHost(t *testing.T) {
	path := writeConfig(t, "")
	tests := []struct{ env, want string }{
		{`[{"id":"a"`, "PARALLAX_LOCAL_AGENTS: not a JSON array"},
		{`[{"id":"a","endpoint":"http://127.0.0.1:1"},{"id":"b","endpoint":"127.0.0.1:2"}]`, "PARALLAX_LOCAL_AGENTS[1].endpoint"},
		{`[{"id":"a","endpoint":"http://127.0.0.1:1"},{"id":"a","endpoint":"http://127.0.0.1:2"}]`, "PARALLAX_LOCAL_AGENTS[1].id"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bins.host, "run", path)
		cmd.Env = append(cmd.Environ(), "PARALLAX_LOCAL_AGENTS="+tt.env)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("PARALLAX_LOCAL_AGENTS=%s: %v, output:\n%s\nwant an error naming %s", tt.env, err, out, tt.want)
		}
		if slices.Contains(strings.Fields(string(out)), "listening") {
			t.Errorf("the host listened despite a bad PARALLAX_LOCAL_AGENTS")
		}
	}
}

// GET /metrics serves the host's Prometheus metrics, behind the token.
func TestPrometheusMetrics(t *testing.T) {
	h := startHost(t, writeConfigServer(t, `  token = "metrics-token"`, "", ""))
	h.token = "metrics-token"
	h.spawnShell("counted", nil)
	_, body := h.get("/metrics")
	for _, want := range []string{
		`parallax_agents{runtime="local",status="ready",type="custom"} 1`,
		`parallax_spawns_total{result="ok",runtime="local",type="custom"} 1`,
		`parallax_spawn_duration_seconds_count{runtime="local",type="custom"} 1`,
		`parallax_runtime_healthy{runtime="local"} 1`,
		`parallax_catalog_agents{source="managed"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	h.token = ""
	if code := h.do("GET", "/metrics", nil, nil); code != 401 {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
}
