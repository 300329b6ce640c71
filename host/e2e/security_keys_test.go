package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The tests here hunt for an agent's keys wherever the host lets text out
// or writes: its data dir, its log (the plugins' lines included), events
// and API responses. DESIGN.md, Trust: keys live in memory and in the
// runtime's own store; one written anywhere else goes when its agent ends.

// testKey returns a key no earlier run or other test shares.
func testKey(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// traces are what of key may be found: the key, and its last 20
// characters, which Claude Code's settings keep to remember a key.
func traces(key string) []string { return []string{key, key[len(key)-20:]} }

// filesHolding lists the files under dir that hold a trace of a key.
func filesHolding(t *testing.T, dir string, keys ...string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, k := range keys {
			for _, tr := range traces(k) {
				if strings.Contains(string(b), tr) {
					found = append(found, p)
					return nil
				}
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return found
}

// noKey fails the test if text holds a trace of a key.
func noKey(t *testing.T, where, text string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		for _, tr := range traces(k) {
			if strings.Contains(text, tr) {
				t.Errorf("%s shows a key (%q):\n%s", where, tr, text)
				return
			}
		}
	}
}

func eventsJSON(t *testing.T, es *eventStream) string {
	b, err := json.Marshal(es.events())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyedAgent is an agent spawned with a key that it prints, as env and as
// its last line, once it reads a line; then it exits 3 or sleeps.
type keyedAgent struct {
	id, key, envVar string
}

func spawnKeyed(t *testing.T, h *host, typ, credential, envVar string, exit bool) keyedAgent {
	t.Helper()
	k := keyedAgent{key: testKey("sk-test-" + typ + "-"), envVar: envVar}
	then := "exec sleep 300"
	if exit {
		then = "exit 3"
	}
	script := `read x; env; echo "` + envVar + `=$` + envVar + `"; ` + then
	sh := "/bin/sh"
	if typ == "custom" {
		// A shell at a path naming the key: runtime-local logs the path
		// it starts, a line the host relays and must mask.
		dir := filepath.Join(t.TempDir(), k.key)
		sh = filepath.Join(dir, "sh")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/bin/sh", sh); err != nil {
			t.Fatal(err)
		}
	}
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": typ, "command": []string{sh, "-c", script},
		"credentials": map[string]string{credential: k.key},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn %s: status %d; log:\n%s", typ, code, h.logs())
	}
	k.id = a.ID
	return k
}

// printKey makes the agent print its env, and waits until its log shows
// the key's line, masked.
func (k keyedAgent) printKey(t *testing.T, h *host) {
	t.Helper()
	h.attachTerm(k.id).send("go\n")
	eventually(t, "agent "+k.id+" to print its key", func() bool {
		_, logs := h.raw("GET", "/api/managed-agents/"+k.id+"/logs")
		return strings.Contains(logs, k.envVar+"=[REDACTED]")
	})
}

func TestKeysLeaveNoTraceWhenAnAgentEnds(t *testing.T) {
	tests := []struct {
		name string
		exit bool // the agents exit by themselves after printing
		// end ends the agents; it returns the host to look at afterwards.
		end func(t *testing.T, h *host, path string, agents []keyedAgent) *host
	}{
		{"its process exits", true, func(t *testing.T, h *host, _ string, agents []keyedAgent) *host {
			for _, a := range agents {
				var got struct {
					Error string          `json:"error"`
					Exit  json.RawMessage `json:"exit"`
				}
				eventually(t, "agent "+a.id+" to exit", func() bool {
					h.do("GET", "/api/managed-agents/"+a.id, nil, &got)
					return got.Exit != nil
				})
				if !strings.Contains(got.Error, "code 3: "+a.envVar+"=[REDACTED]") {
					t.Errorf("error of the exited agent %q; want its last line, masked", got.Error)
				}
			}
			return h
		}},
		{"DELETE", false, func(t *testing.T, h *host, _ string, agents []keyedAgent) *host {
			for _, a := range agents {
				code, body := h.raw("DELETE", "/api/managed-agents/"+a.id)
				if code/100 != 2 {
					t.Fatalf("delete: status %d %s", code, body)
				}
				noKey(t, "DELETE's response", body, a.key)
			}
			return h
		}},
		{"the host shuts down", false, func(t *testing.T, h *host, _ string, _ []keyedAgent) *host {
			h.stop()
			return h
		}},
		{"the host is killed, started again, and then DELETE", false, func(t *testing.T, h *host, path string, agents []keyedAgent) *host {
			killHost(h)
			// The agents live on, and the next host adopts them, keys
			// and all ...
			h2 := startHost(t, path)
			for _, a := range agents {
				a.printKey(t, h2)
			}
			// ... until they end.
			for _, a := range agents {
				if code, body := h2.raw("DELETE", "/api/managed-agents/"+a.id); code/100 != 2 {
					t.Fatalf("delete after the restart: status %d %s", code, body)
				}
			}
			return h2
		}},
		{"the host and its plugin are killed, and the host started again", false, func(t *testing.T, h *host, path string, agents []keyedAgent) *host {
			killHost(h)
			if err := syscall.Kill(findPluginPID("parallax-runtime-local"), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// Nothing cleaned up: the homes still hold the keys ...
			dataDir := filepath.Join(filepath.Dir(path), "data")
			if len(filesHolding(t, dataDir, agents[0].key)) == 0 {
				t.Fatal("the codex agent's home holds no key after the kill; the test shows nothing")
			}
			// ... until the next start.
			return startHost(t, path)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "")
			dataDir := filepath.Join(filepath.Dir(path), "data")
			h := startHost(t, path)
			es := h.subscribe("")
			// Codex gets its key in a file of its home too; custom only
			// in its env.
			agents := []keyedAgent{
				spawnKeyed(t, h, "codex", "openaiKey", "OPENAI_API_KEY", tt.exit),
				spawnKeyed(t, h, "custom", "anthropicKey", "ANTHROPIC_API_KEY", tt.exit),
			}
			keys := []string{agents[0].key, agents[1].key}
			if got := filesHolding(t, dataDir, agents[0].key); len(got) == 0 {
				t.Fatal("the codex agent's home holds no key while it runs; the test shows nothing")
			}
			for _, a := range agents {
				a.printKey(t, h)
			}

			after := tt.end(t, h, path, agents)

			if got := filesHolding(t, dataDir, keys...); len(got) != 0 {
				t.Errorf("files in the data dir hold a key after the agents ended: %v", got)
			}
			noKey(t, "the host's log", h.logs(), keys...)
			if after != h {
				noKey(t, "the restarted host's log", after.logs(), keys...)
			}
			noKey(t, "events", eventsJSON(t, es), keys...)
			if tt.exit {
				// The records stay, and show no key.
				for _, a := range agents {
					for _, p := range []string{"/api/managed-agents/" + a.id, "/api/managed-agents/" + a.id + "/logs", "/api/managed-agents"} {
						_, body := h.raw("GET", p)
						noKey(t, "GET "+p, body, keys...)
					}
				}
				if !strings.Contains(eventsJSON(t, es), `=[REDACTED]`) {
					t.Errorf("no event shows the masked exit line: %s", eventsJSON(t, es))
				}
			}
		})
	}
}

// fakeClaudeShowingKey is fakeClaude (docker_test.go) whose replies show
// the agent's key.
var fakeClaudeShowingKey = strings.Replace(fakeClaude, `● reply to: $l,`, `● reply to: $l, key $ANTHROPIC_API_KEY,`, 1)

// TestKeysAreMaskedOnADockerAgentAdoptedAfterAHostKill: after a restart
// the host learns an adopted agent's keys from the runtime's store (the
// container's env) and masks them as before.
func TestKeysAreMaskedOnADockerAgentAdoptedAfterAHostKill(t *testing.T) {
	needDocker(t)
	path := writeConfigWith(t, "", dockerRuntime)
	dataDir := filepath.Join(filepath.Dir(path), "data")
	h := startHost(t, path)
	key := testKey("sk-ant-test-")
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "docker", "command": []string{"/bin/sh", "-c", fakeClaudeShowingKey},
		"credentials": map[string]string{"anthropicKey": key},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn on runtime docker: status %d; log:\n%s", code, h.logs())
	}
	t.Cleanup(func() {
		if id := containersOf(t, a.ID); id != "" {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	// The container has its copy of the home; the host's went at once.
	if got := filesHolding(t, dataDir, key); len(got) != 0 {
		t.Errorf("the data dir holds the key of a docker agent: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "agents", a.ID)); !os.IsNotExist(err) {
		t.Errorf("the docker agent's home is still in the data dir: %v", err)
	}
	h.waitStatus(a.ID, "ready")

	// Killed: no shutdown, the plugin dies with the host, the container
	// lives on.
	_ = h.cmd.Process.Kill()
	<-h.exited
	h = startHost(t, path)
	es := h.subscribe("")
	if code, body := h.raw("GET", "/api/managed-agents/"+a.ID); code != http.StatusOK {
		t.Fatalf("the agent was not adopted at start: status %d %s; log:\n%s", code, body, h.logs())
	}
	// Nothing from before the adoption is replayed: a line redraws the
	// fake's prompt, which the session then sees.
	h.attachTerm(a.ID).send("redraw\n")
	h.waitStatus(a.ID, "ready")
	var resp struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{
		"message": "hello", "expectResponse": true, "timeout": 30,
	}, &resp); code != http.StatusOK {
		t.Fatalf("send to the adopted agent: status %d; log:\n%s", code, h.logs())
	}
	if !strings.Contains(resp.Message.Content, "reply to: hello, key [REDACTED]") {
		t.Errorf("reply %q; want the key masked", resp.Message.Content)
	}
	eventually(t, "the message event", func() bool { return es.has("message", a.ID) })
	for _, p := range []string{"/api/managed-agents/" + a.ID, "/api/managed-agents/" + a.ID + "/logs"} {
		_, body := h.raw("GET", p)
		noKey(t, "GET "+p, body, key)
	}
	code, body := h.raw("DELETE", "/api/managed-agents/"+a.ID+"?force=true")
	if code/100 != 2 {
		t.Fatalf("delete: status %d %s", code, body)
	}
	noKey(t, "DELETE's response", body, key)
	noKey(t, "events", eventsJSON(t, es), key)
	noKey(t, "the host's log", h.logs(), key)
	if got := filesHolding(t, dataDir, key); len(got) != 0 {
		t.Errorf("the data dir holds the key: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "agents", a.ID)); !os.IsNotExist(err) {
		t.Errorf("the agent's directory is left after DELETE: %v", err)
	}
	eventually(t, "the agent's container to be gone", func() bool { return containersOf(t, a.ID) == "" })
}
