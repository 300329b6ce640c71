package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sleeper returns a command that writes its pid (its process group, as the
// runtime makes each agent a group leader) to a file, then waits.
func sleeper(pidFile string) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf("echo $$ > %s; exec sleep 300", pidFile)}
}

func TestSpawnListGetDeleteOverREST_LeavesNoProcess(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	pidFile := filepath.Join(t.TempDir(), "pid")

	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"name": "worker-1", "type": "custom", "command": sleeper(pidFile), "workdir": t.TempDir(),
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: status %d, body %+v; log:\n%s", code, a, h.logs())
	}
	if a.Status != "starting" || a.Runtime != "local" || a.Name != "worker-1" || a.Type != "custom" {
		t.Fatalf("spawned agent = %+v, want a starting custom worker-1 on local", a)
	}
	// A custom agent is ready once its screen has settled.
	h.waitStatus(a.ID, "ready")
	pgid := readPID(t, pidFile)
	if !groupAlive(pgid) {
		t.Fatalf("agent's process group %d is not running", pgid)
	}
	// The plugin logs as JSON on its stderr; the host re-logs each line as
	// a structured entry of its own, under the plugin's name.
	eventually(t, "the plugin's own log entry about the agent", func() bool {
		for _, line := range strings.Split(h.logs(), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["@message"] == "agent started" &&
				strings.Contains(fmt.Sprint(e["@module"]), "parallax-runtime-local") && e["agent"] == a.ID {
				return true
			}
		}
		return false
	})

	var list []agent
	if code := h.do("GET", "/api/managed-agents", nil, &list); code != http.StatusOK || len(list) != 1 || list[0].ID != a.ID || list[0].Status != "ready" {
		t.Fatalf("list: status %d, %+v; want the one ready agent %s", code, list, a.ID)
	}
	var got agent
	if code := h.do("GET", "/api/managed-agents/"+a.ID, nil, &got); code != http.StatusOK || got.ID != a.ID {
		t.Fatalf("get: status %d, %+v", code, got)
	}
	var rts []struct {
		Name         string `json:"name"`
		Priority     int    `json:"priority"`
		Healthy      bool   `json:"healthy"`
		ActiveAgents int    `json:"activeAgents"`
	}
	eventually(t, "runtime local to count 1 active agent", func() bool {
		h.do("GET", "/api/runtimes", nil, &rts)
		return len(rts) == 1 && rts[0].Name == "local" && rts[0].Healthy && rts[0].Priority == 10 && rts[0].ActiveAgents == 1
	})

	var deleted agent
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID, nil, &deleted); code != http.StatusOK || deleted.Status != "stopped" {
		t.Fatalf("delete: status %d, %+v; log:\n%s", code, deleted, h.logs())
	}
	if groupAlive(pgid) {
		t.Errorf("process group %d still has processes after DELETE", pgid)
	}
	// Deleted, it stays in the history until purged.
	var kept struct {
		Removed bool `json:"removed"`
	}
	if code := h.do("GET", "/api/managed-agents/"+a.ID, nil, &kept); code != http.StatusOK || !kept.Removed {
		t.Errorf("get after delete: status %d, %+v; want 200 and removed", code, kept)
	}
	var listed []agent
	h.do("GET", "/api/managed-agents", nil, &listed)
	if len(listed) != 0 {
		t.Errorf("list after delete: %+v, want none", listed)
	}
	h.do("GET", "/api/managed-agents?all=true", nil, &listed)
	if len(listed) != 1 || listed[0].ID != a.ID {
		t.Errorf("list ?all=true after delete: %+v, want the deleted agent", listed)
	}
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID+"?purge=true", nil, nil); code != http.StatusOK {
		t.Errorf("purge: status %d", code)
	}
	if code := h.do("GET", "/api/managed-agents/"+a.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("get after purge: status %d, want 404", code)
	}
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	tests := []struct {
		name      string
		method    string
		path      string
		body      any
		wantCode  int
		wantField string
		wantText  string
	}{
		{"missing type", "POST", "/api/managed-agents", map[string]any{"command": []string{"true"}}, 400, "type", "is required"},
		{"unknown type", "POST", "/api/managed-agents", map[string]any{"type": "robot", "command": []string{"true"}}, 400, "type", "unknown type"},
		{"custom without command", "POST", "/api/managed-agents", map[string]any{"type": "custom"}, 400, "command", "argv"},
		{"unknown field", "POST", "/api/managed-agents", map[string]any{"type": "custom", "comand": []string{"true"}}, 400, "comand", "unknown field"},
		{"wrong field type", "POST", "/api/managed-agents", map[string]any{"type": "custom", "command": "true"}, 400, "command", "want"},
		{"workdir missing", "POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"true"}, "workdir": "/does/not/exist"}, 400, "workdir", "not an existing directory"},
		{"unknown runtime", "POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"true"}, "runtime": "mars"}, 400, "runtime", "configured: local"},
		{"bad memory", "POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"true"}, "resources": map[string]any{"memory": "lots"}}, 400, "resources.memory", "512Mi"},
		{"command not found", "POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"no-such-command-xyz"}}, 400, "", "no-such-command-xyz"},
		{"unknown id", "GET", "/api/managed-agents/nope", nil, 404, "", "not found"},
		{"delete unknown id", "DELETE", "/api/managed-agents/nope", nil, 404, "", "not found"},
		{"bad delete timeout", "DELETE", "/api/managed-agents/nope?timeout=soon", nil, 400, "timeout", "seconds"},
		{"unknown route", "GET", "/api/nothing", nil, 404, "", "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			code := h.do(tt.method, tt.path, tt.body, &e)
			if code != tt.wantCode || e.Field != tt.wantField || !strings.Contains(e.Error, tt.wantText) {
				t.Errorf("got %d field %q error %q; want %d field %q error containing %q",
					code, e.Field, e.Error, tt.wantCode, tt.wantField, tt.wantText)
			}
		})
	}
	// Nothing above may have left an agent behind, and the host still works.
	var list []agent
	if h.do("GET", "/api/managed-agents", nil, &list); len(list) != 0 {
		t.Errorf("agents after bad requests: %+v", list)
	}
}

func TestAgentThatExitsReportsItsExit(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	tests := []struct {
		name       string
		script     string
		wantStatus string
		wantError  string
	}{
		{"exit 0 is stopped", "exit 0", "stopped", ""},
		{"exit 3 is an error with the last line", "echo 'cannot find config'; exit 3", "error", "code 3: cannot find config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a agent
			if code := h.do("POST", "/api/managed-agents", map[string]any{
				"type": "custom", "command": []string{"/bin/sh", "-c", "sleep 0.2; " + tt.script},
			}, &a); code != http.StatusCreated {
				t.Fatalf("spawn: %d", code)
			}
			eventually(t, "agent to end", func() bool {
				h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
				return a.Status == "stopped" || a.Status == "error"
			})
			if a.Status != tt.wantStatus || !strings.Contains(a.Error, tt.wantError) {
				t.Errorf("agent = %+v; want status %s, error containing %q", a, tt.wantStatus, tt.wantError)
			}
		})
	}
}

func TestPluginKilledIsRestartedAndItsAgentsReported(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	pidFile := filepath.Join(t.TempDir(), "pid")
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": sleeper(pidFile)}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	pgid := readPID(t, pidFile)

	pluginPID := childNamed(t, h.cmd.Process.Pid, "parallax-runtime-local")
	if err := syscall.Kill(pluginPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	eventually(t, "the host to log the plugin's death", func() bool {
		return strings.Contains(h.logs(), "runtime plugin exited unexpectedly")
	})
	var rts []struct {
		Healthy  bool `json:"healthy"`
		Restarts int  `json:"restarts"`
	}
	eventually(t, "runtime local healthy again after a restart", func() bool {
		h.do("GET", "/api/runtimes", nil, &rts)
		return len(rts) == 1 && rts[0].Healthy && rts[0].Restarts == 1
	})
	if !strings.Contains(h.logs(), "runtime plugin restarted") {
		t.Errorf("no restart in the log:\n%s", h.logs())
	}
	eventually(t, "the agent reported as lost", func() bool {
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
		return a.Status == "error"
	})
	if !strings.Contains(a.Error, "local") {
		t.Errorf("agent error %q does not name the runtime", a.Error)
	}
	// The restarted plugin cleans up what the dead one left.
	eventually(t, "the lost agent's processes to be gone", func() bool { return !groupAlive(pgid) })

	// The host keeps working: a new agent starts on the new plugin.
	var b agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sleep", "60"}}, &b); code != http.StatusCreated {
		t.Fatalf("spawn after restart: %d %+v", code, b)
	}
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID, nil, nil); code != http.StatusOK {
		t.Errorf("delete lost agent: %d", code)
	}
}

// childNamed finds the child of parent whose command name is name.
func childNamed(t testing.TB, parent int, name string) int {
	t.Helper()
	var found int
	eventually(t, "process "+name, func() bool {
		dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, d := range dirs {
			b, err := os.ReadFile(d)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...; comm is cut to 15 bytes.
			s := string(b)
			open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
			if open < 0 || end < 0 {
				continue
			}
			var pid, ppid int
			var state string
			fmt.Sscan(s[:open], &pid)
			fmt.Sscan(s[end+2:], &state, &ppid)
			if ppid == parent && strings.HasPrefix(name, s[open+1:end]) {
				found = pid
				return true
			}
		}
		return false
	})
	return found
}

func TestShutdownStopsEveryAgent(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	var pgids []int
	for i := range 3 {
		pidFile := filepath.Join(t.TempDir(), fmt.Sprint("pid", i))
		if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": sleeper(pidFile)}, nil); code != http.StatusCreated {
			t.Fatalf("spawn: %d", code)
		}
		pgids = append(pgids, readPID(t, pidFile))
	}
	h.stop()
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("host exit code %d after SIGTERM; log:\n%s", code, h.logs())
	}
	for _, pg := range pgids {
		if groupAlive(pg) {
			t.Errorf("process group %d survived the host's shutdown", pg)
		}
	}
	if !strings.Contains(h.logs(), "shut down") {
		t.Errorf("no shutdown in the log:\n%s", h.logs())
	}
}

func TestTokenIsRequiredWhenSet(t *testing.T) {
	h2 := startHost(t, writeConfigWithToken(t), "PARALLAX_TEST_TOKEN=s3cret-token")
	var e apiError
	if code := h2.do("GET", "/api/managed-agents", nil, &e); code != http.StatusUnauthorized {
		t.Errorf("without token: %d, want 401", code)
	}
	h2.token = "wrong"
	if code := h2.do("GET", "/api/managed-agents", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	h2.token = "s3cret-token"
	if code := h2.do("GET", "/api/managed-agents", nil, nil); code != http.StatusOK {
		t.Errorf("right token: %d, want 200", code)
	}
	if strings.Contains(h2.logs(), "s3cret-token") {
		t.Errorf("the token appears in the host's log")
	}
}

func writeConfigWithToken(t *testing.T) string {
	return writeConfigServer(t, `token = env("PARALLAX_TEST_TOKEN")`, "", "")
}

func TestValidateCommandReportsFileAndLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		config   string
		wantCode int
		wantOut  []string
	}{
		{"valid", fmt.Sprintf("plugin_dir = %q\nruntime \"local\" {}\n", bins.plugins), 0, []string{"valid"}},
		{"unknown attribute in plugin config", fmt.Sprintf("plugin_dir = %q\nruntime \"local\" {\n  config {\n    no_such_setting = 1\n  }\n}\n", bins.plugins), 1, []string{"config.hcl:4:5", "no_such_setting"}},
		{"missing plugin", "plugin_dir = \"/nowhere\"\nruntime \"local\" {}\n", 1, []string{"config.hcl:2:", "make build"}},
		{"bad priority", fmt.Sprintf("plugin_dir = %q\nruntime \"local\" {\n  priority = -1\n}\n", bins.plugins), 1, []string{"config.hcl:3:", "priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"), "config.hcl")
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bins.host, "validate", path)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out.String())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// A terminal's Ctrl-C, or a supervisor's SIGTERM to the job, reaches every
// process in the group. The plugins must survive it long enough for the
// host to stop its agents gracefully through them.
func TestSignalToTheProcessGroupStopsAgentsGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			h := startHost(t, writeConfig(t, ""))
			dir := t.TempDir()
			pidFile, termFile := filepath.Join(dir, "pid"), filepath.Join(dir, "term")
			script := fmt.Sprintf("trap 'echo graceful > %s; exit 0' TERM; trap '' HUP INT; echo $$ > %s; while :; do sleep 0.1; done", termFile, pidFile)
			if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"/bin/sh", "-c", script}}, nil); code != http.StatusCreated {
				t.Fatalf("spawn: %d", code)
			}
			pgid := readPID(t, pidFile)

			if err := syscall.Kill(-h.cmd.Process.Pid, sig); err != nil {
				t.Fatal(err)
			}
			<-h.exited
			if code := h.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("host exit code %d after %v; log:\n%s", code, sig, h.logs())
			}
			if b, err := os.ReadFile(termFile); err != nil || strings.TrimSpace(string(b)) != "graceful" {
				t.Errorf("the agent was not stopped with SIGTERM (term file: %q, %v); log:\n%s", b, err, h.logs())
			}
			eventually(t, "the agent's processes to be gone", func() bool { return !groupAlive(pgid) })
		})
	}
}

// A limit is either enforced, as the runtime's capabilities say, or the
// agent carries a warning; never silently dropped.
func TestLimitsAreEnforcedOrWarned(t *testing.T) {
	for _, cgroups := range []string{"auto", "off"} {
		t.Run("cgroups="+cgroups, func(t *testing.T) {
			h := startHost(t, writeConfig(t, fmt.Sprintf("config {\n cgroups = %q\n}", cgroups)))
			var rts []struct {
				Capabilities struct {
					CPULimit    bool `json:"cpuLimit"`
					MemoryLimit bool `json:"memoryLimit"`
				} `json:"capabilities"`
			}
			if h.do("GET", "/api/runtimes", nil, &rts); len(rts) != 1 {
				t.Fatalf("runtimes: %+v", rts)
			}
			var a struct {
				ID       string   `json:"id"`
				Warnings []string `json:"warnings"`
			}
			if code := h.do("POST", "/api/managed-agents", map[string]any{
				"type": "custom", "command": []string{"sleep", "60"}, "resources": map[string]any{"cpu": "500m", "memory": "64Mi"},
			}, &a); code != http.StatusCreated {
				t.Fatalf("spawn: %d", code)
			}
			warned := strings.Join(a.Warnings, "\n")
			caps := rts[0].Capabilities
			t.Logf("capabilities %+v, warnings %q", caps, warned)
			if cgroups == "off" && (caps.CPULimit || caps.MemoryLimit) {
				t.Errorf("cgroups off, yet capabilities claim limits: %+v", caps)
			}
			if caps.CPULimit == strings.Contains(warned, "cpu") {
				t.Errorf("cpuLimit capability %t but warnings %q", caps.CPULimit, warned)
			}
			if caps.MemoryLimit == strings.Contains(warned, "memory") {
				t.Errorf("memoryLimit capability %t but warnings %q", caps.MemoryLimit, warned)
			}
		})
	}
}
