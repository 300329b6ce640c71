package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// get fetches path and returns the status and the body as is.
func (h *host) get(path string) (int, string) {
	h.t.Helper()
	return h.raw("GET", path)
}

func TestLogsAndMetrics(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	// Colours and a progress line rewritten with \r, as agents print them.
	script := `printf '\033[1;32mgreen\033[0m line\r\n'; printf 'progress 10%%\rprogress 100%%\r\n'; ` +
		`for i in 1 2 3 4 5; do echo "line-$i"; done; exec sleep 300`
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"/bin/sh", "-c", script},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	eventually(t, "the agent's output in its logs", func() bool {
		_, body := h.get("/api/managed-agents/" + a.ID + "/logs")
		return strings.Contains(body, "line-5")
	})

	tests := []struct {
		query       string
		want        string
		contentType string
	}{
		{"", "green line\nprogress 100%\nline-1\nline-2\nline-3\nline-4\nline-5\n", "text/plain"},
		{"?tail=2", "line-4\nline-5\n", "text/plain"},
		{"?raw=true&tail=1", "line-5\r\n", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run("logs"+tt.query, func(t *testing.T) {
			code, body := h.get("/api/managed-agents/" + a.ID + "/logs" + tt.query)
			if code != http.StatusOK || body != tt.want {
				t.Errorf("status %d, body %q; want %q", code, body, tt.want)
			}
		})
	}
	if _, raw := h.get("/api/managed-agents/" + a.ID + "/logs?raw=true"); !strings.Contains(raw, "\033[1;32m") {
		t.Errorf("raw logs lost the escape codes: %q", raw)
	}

	var m struct {
		CPU          *float64 `json:"cpu"`
		Memory       *uint64  `json:"memory"`
		Uptime       *int64   `json:"uptime"`
		MessageCount *int64   `json:"messageCount"`
	}
	if code := h.do("GET", "/api/managed-agents/"+a.ID+"/metrics", nil, &m); code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	// The local runtime reports stats; a sleeping sh uses some memory.
	if m.CPU == nil || m.Memory == nil || *m.Memory == 0 || m.Uptime == nil || *m.Uptime <= 0 || m.MessageCount == nil {
		t.Errorf("metrics = cpu %v memory %v uptime %v messageCount %v; want all set, memory and uptime above 0",
			m.CPU, m.Memory, m.Uptime, m.MessageCount)
	}
}

func TestListFiltersByCapabilityAndShowsRole(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	type full struct {
		agent
		Capabilities []string `json:"capabilities"`
		Role         string   `json:"role"`
	}
	var reviewer, plain full
	h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"sleep", "300"}, "capabilities": []string{"code_review", "go"}, "role": "reviewer",
	}, &reviewer)
	h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sleep", "300"}}, &plain)
	if reviewer.Role != "reviewer" || len(reviewer.Capabilities) != 2 {
		t.Errorf("spawned %+v, want role and capabilities echoed", reviewer)
	}
	if plain.Capabilities == nil {
		t.Errorf("an agent without capabilities shows null; want []")
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"?capability=code_review", []string{reviewer.ID}},
		{"?capability=go", []string{reviewer.ID}},
		{"?capability=rust", nil},
		{"?type=custom", []string{reviewer.ID, plain.ID}},
		{"?runtime=docker", nil},
	}
	for _, tt := range tests {
		var list []full
		if code := h.do("GET", "/api/managed-agents"+tt.query, nil, &list); code != http.StatusOK {
			t.Fatalf("%s: %d", tt.query, code)
		}
		var got []string
		for _, a := range list {
			got = append(got, a.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestBadSpawnRequestsAreA400NamingTheField(t *testing.T) {
	allowed := t.TempDir()
	outside := t.TempDir()
	// A link inside the allowed root that leads out of it.
	link := filepath.Join(allowed, "escape")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(allowed, "project")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, writeConfigServer(t, fmt.Sprintf("  allowed_workdirs = [%q]", allowed), "", ""))

	tests := []struct {
		name  string
		body  string
		code  int
		field string
		says  string
	}{
		{"malformed JSON", `{"type": "custom",`, 400, "", "not valid JSON"},
		{"not an object", `[1,2]`, 400, "", "want"},
		{"unknown field", `{"type":"custom","command":["true"],"comand":["x"]}`, 400, "comand", "unknown field"},
		{"wrong type", `{"type":"custom","command":"true"}`, 400, "command", "want []string"},
		{"unknown type", `{"type":"cursor"}`, 400, "type", "claude"},
		{"unknown runtime", `{"type":"custom","command":["true"],"runtime":"mars"}`, 400, "runtime", "mars"},
		{"invalid env name", `{"type":"custom","command":["true"],"env":{"A-B":"1"}}`, 400, "env", "A-B"},
		{"missing workdir", `{"type":"custom","command":["true"],"workdir":"/no/such/dir"}`, 400, "workdir", "not an existing directory"},
		{"workdir outside the allowed roots", fmt.Sprintf(`{"type":"custom","command":["true"],"workdir":%q}`, outside), 400, "workdir", "allowed_workdirs"},
		{"workdir escaping by a symlink", fmt.Sprintf(`{"type":"custom","command":["true"],"workdir":%q}`, link), 400, "workdir", "outside"},
		{"bad capability", `{"type":"custom","command":["true"],"capabilities":["has space"]}`, 400, "capabilities[0]", "code_review"},
		{"bad memory", `{"type":"custom","command":["true"],"resources":{"memory":"lots"}}`, 400, "resources.memory", ""},
		{"oversized body", `{"type":"custom","command":["true"],"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(h.url+"/api/managed-agents", "application/json", bytes.NewBufferString(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apiError
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d, body not a JSON error: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.code || e.Field != tt.field || !strings.Contains(e.Error, tt.says) {
				t.Errorf("got %d field %q error %q; want %d field %q error containing %q",
					resp.StatusCode, e.Field, e.Error, tt.code, tt.field, tt.says)
			}
		})
	}

	// A workdir inside the allowed root is fine, and the host kept running.
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"sleep", "300"}, "workdir": inside,
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn in an allowed workdir: %d", code)
	}
}

// A spawn without a workdir runs in a scratch directory of its own under
// the data dir, not wherever the host was started; it goes with the agent.
func TestSpawnWithoutWorkdirGetsAScratchDir(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"/bin/sh", "-c", "echo cwd=$(pwd); exec sleep 60"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	if !strings.Contains(a.Workdir, filepath.Join("agents", a.ID, "work")) {
		t.Fatalf("workdir %q; want a scratch dir under the data dir", a.Workdir)
	}
	if fi, err := os.Stat(a.Workdir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("scratch workdir: %v, %v", fi, err)
	}
	eventually(t, "the agent to print its cwd", func() bool {
		logs, err := h.agentLogs(a.ID)
		return err == nil && strings.Contains(logs, "cwd="+a.Workdir)
	})
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if _, err := os.Stat(a.Workdir); !os.IsNotExist(err) {
		t.Errorf("the scratch workdir outlived its agent: %v", err)
	}
}
