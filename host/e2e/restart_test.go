package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/parallax/parallax/sdk/runtimetest"
)

// The tests here kill the host (or a plugin) with SIGKILL while agents are
// mid-turn, start it again on the same data dir, and check that nothing
// was lost: the same agents, the turn's reply in the transcript, the
// screen replayed, and no process doubled or left behind.

// fakeClaudeSlow is fakeClaude with turns that take 4 s when the message
// starts with "slow", long enough to kill the host in the middle of one.
var fakeClaudeSlow = strings.Replace(fakeClaude, "sleep 0.3", `case "$l" in slow*) sleep 4;; *) sleep 0.3;; esac`, 1)

// transcriptEntry is a line of GET /messages.
type transcriptEntry struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

func (h *host) transcript(id string) []transcriptEntry {
	h.t.Helper()
	var out []transcriptEntry
	if code := h.do("GET", "/api/managed-agents/"+id+"/messages", nil, &out); code != http.StatusOK {
		h.t.Fatalf("GET messages of %s: status %d", id, code)
	}
	return out
}

func hasEntry(es []transcriptEntry, kind, text string) bool {
	for _, e := range es {
		if e.Kind == kind && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

// midTurn spawns the slow fake claude on runtime rt (with extra fields in
// the request), has one turn answered, then starts a slow turn and
// returns once the agent is busy with it and the transcript has it.
func midTurn(t *testing.T, h *host, rt string, extra map[string]any) agent {
	t.Helper()
	req := map[string]any{"type": "claude", "name": "survivor-" + rt, "runtime": rt,
		"command":     []string{"/bin/sh", "-c", fakeClaudeSlow},
		"credentials": map[string]string{"anthropicKey": "sk-ant-FAKE-restart-0123456789"}}
	for k, v := range extra {
		req[k] = v
	}
	var a agent
	if code := h.do("POST", "/api/managed-agents", req, &a); code != http.StatusCreated {
		t.Fatalf("spawn on %s: status %d; log:\n%s", rt, code, h.logs())
	}
	runtimetest.Eventually(t, 2*time.Minute, "agent "+a.ID+" ready", func() bool {
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
		return a.Status == "ready"
	}, func() string { return fmt.Sprintf("status %s %s; log:\n%s", a.Status, a.Error, h.logs()) })
	var reply sendReply
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "before the crash", "expectResponse": true, "timeout": 60}, &reply); code != http.StatusOK || !strings.Contains(reply.Message.Content, "reply to: before the crash") {
		t.Fatalf("first send on %s: %d %q", rt, code, reply.Message.Content)
	}
	// The slow turn's request dies with the host; its reply must not.
	// The goroutine gets the id, not a, which the polls below rewrite.
	id := a.ID
	go func() {
		body := strings.NewReader(`{"message":"slow turn in flight","expectResponse":true,"timeout":60}`)
		req, _ := http.NewRequest("POST", h.url+"/api/managed-agents/"+id+"/send", body)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "the slow turn under way on "+rt, func() bool {
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
		return a.Status == "busy" && hasEntry(h.transcript(a.ID), "sent", "slow turn in flight")
	})
	return a
}

// killHost SIGKILLs h and waits for it to be gone.
func killHost(h *host) {
	_ = h.cmd.Process.Kill()
	<-h.exited
}

// checkSurvived checks agent a on the restarted host h2: same id and name,
// the turn in flight answered into the transcript, the screen replayed,
// and a new message answered.
func checkSurvived(t *testing.T, h2 *host, a agent) {
	t.Helper()
	var got agent
	if code := h2.do("GET", "/api/managed-agents/"+a.ID, nil, &got); code != http.StatusOK || got.Name != a.Name || got.Runtime != a.Runtime {
		t.Fatalf("agent %s after the restart: status %d, %+v; want it back as %+v; log:\n%s", a.ID, code, got, a, h2.logs())
	}
	runtimetest.Eventually(t, time.Minute, "the reply of the turn in flight in "+a.ID+"'s transcript", func() bool {
		return hasEntry(h2.transcript(a.ID), "reply", "reply to: slow turn in flight")
	}, func() string { return fmt.Sprintf("transcript %+v; log:\n%s", h2.transcript(a.ID), h2.logs()) })
	es := h2.transcript(a.ID)
	if !hasEntry(es, "sent", "before the crash") || !hasEntry(es, "reply", "reply to: before the crash") {
		t.Errorf("the transcript lost what came before the crash: %+v", es)
	}

	tm := h2.attachTerm(a.ID)
	// From before the crash: only the runtime's scrollback has it now.
	eventually(t, "the terminal to replay the earlier output", func() bool {
		return strings.Contains(tm.output(), "reply to: before the crash")
	})

	h2.waitStatus(a.ID, "ready")
	var reply sendReply
	if code := h2.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "after the crash", "expectResponse": true, "timeout": 60}, &reply); code != http.StatusOK || !strings.Contains(reply.Message.Content, "reply to: after the crash") {
		t.Fatalf("send after the restart on %s: status %d, reply %q; log:\n%s", a.Runtime, code, reply.Message.Content, h2.logs())
	}
	logs, _ := h2.agentLogs(a.ID)
	if strings.Count(logs, "reply to: before the crash") == 0 {
		t.Errorf("the logs lost the output from before the crash:\n%s", logs)
	}
}

func TestHostKilledMidTurn_LocalAgentLivesOn(t *testing.T) {
	path := writeConfig(t, "")
	h := startHost(t, path)
	a := midTurn(t, h, "local", nil)
	plugin := findPluginPID("parallax-runtime-local")

	killHost(h)
	h2 := startHost(t, path)
	checkSurvived(t, h2, a)

	if p := findPluginPID("parallax-runtime-local"); p != plugin {
		t.Errorf("runtime-local pid %d after the restart, %d before; want the same plugin reattached", p, plugin)
	}
	if n := processesWith("slow*) sleep 4"); n != 1 {
		t.Errorf("%d agent shells run the fake claude; want exactly 1", n)
	}
	if !strings.Contains(h2.logs(), "reattached") {
		t.Errorf("the new host did not say it reattached to the plugin; log:\n%s", h2.logs())
	}
}

func TestHostKilledMidTurn_DockerAgentLivesOn(t *testing.T) {
	needDocker(t)
	path := writeConfigWith(t, "", dockerRuntime)
	h := startHost(t, path)
	a := midTurn(t, h, "docker", nil)
	t.Cleanup(func() {
		if id := containersOf(t, a.ID); id != "" {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	before := containersOf(t, a.ID)

	killHost(h)
	h2 := startHost(t, path)
	checkSurvived(t, h2, a)
	if got := containersOf(t, a.ID); got != before || strings.Contains(got, "\n") {
		t.Errorf("containers of the agent %q after the restart, %q before; want the same one", got, before)
	}
}

func TestHostKilledMidTurn_KubernetesAgentLivesOn(t *testing.T) {
	c := startKubernetes(t)
	path := writeConfigWith(t, "", kubernetesRuntime(c))
	h := startHost(t, path)
	a := midTurn(t, h, "kubernetes", nil)
	podsOf := func() []string {
		pods, err := c.Client.CoreV1().Pods(c.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "parallax.agent=" + a.ID})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		return names
	}
	before := podsOf()

	killHost(h)
	h2 := startHost(t, path)
	checkSurvived(t, h2, a)
	if after := podsOf(); len(after) != 1 || after[0] != before[0] {
		t.Errorf("pods of the agent %v after the restart, %v before; want the same one", after, before)
	}
}

// killPlugin SIGKILLs the named plugin and waits for its successor.
func killPlugin(t *testing.T, name string) {
	t.Helper()
	pid := pluginPID(t, name)
	if err := exec.Command("kill", "-KILL", fmt.Sprint(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new "+name+" process", func() bool {
		p := findPluginPID(name)
		return p != 0 && p != pid
	})
}

func TestPluginKilledMidTurn_DockerAgentLivesOn(t *testing.T) {
	needDocker(t)
	h := startHost(t, writeConfigWith(t, "", dockerRuntime))
	a := midTurn(t, h, "docker", nil)
	t.Cleanup(func() {
		if id := containersOf(t, a.ID); id != "" {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	killPlugin(t, "parallax-runtime-docker")
	checkSurvived(t, h, a)
}

func TestPluginKilledMidTurn_KubernetesAgentLivesOn(t *testing.T) {
	c := startKubernetes(t)
	h := startHost(t, writeConfigWith(t, "", kubernetesRuntime(c)))
	a := midTurn(t, h, "kubernetes", nil)
	killPlugin(t, "parallax-runtime-kubernetes")
	checkSurvived(t, h, a)
}

// A local agent lives in its plugin's process tree (it holds the PTY), so
// it ends with the plugin: as an error that says why, its history kept.
func TestPluginKilledMidTurn_LocalAgentEndsWithItsTranscriptKept(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	a := midTurn(t, h, "local", nil)
	killPlugin(t, "parallax-runtime-local")
	var got agent
	eventually(t, "the agent reported as lost", func() bool {
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &got)
		return got.Status == "error"
	})
	if !strings.Contains(got.Error, "runtime plugin") {
		t.Errorf("error %q; want it to say the runtime plugin exited", got.Error)
	}
	es := h.transcript(a.ID)
	if !hasEntry(es, "reply", "reply to: before the crash") || !hasEntry(es, "sent", "slow turn in flight") {
		t.Errorf("transcript after the plugin's crash: %+v", es)
	}
	if logs, _ := h.agentLogs(a.ID); !strings.Contains(logs, "reply to: before the crash") {
		t.Errorf("logs after the plugin's crash:\n%s", logs)
	}
	eventually(t, "the agent's shell gone", func() bool { return processesWith("slow*) sleep 4") == 0 })
}

// TestHostCrashLoop kills the host 20 times at random moments of a burst
// of spawns, sends and deletes; after each restart every agent the API
// ever answered 201 for is listed or in the history, whole.
func TestHostCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 20 host restarts")
	}
	path := writeConfig(t, "")
	created := map[string]bool{}
	// Each ends after its one message, or so many would pile up.
	echo := []string{"/bin/sh", "-c", `IFS= read -r l; echo "got:$l"`}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	for round := range 20 {
		h := startHost(t, path)
		var listed []agent
		if code := h.do("GET", "/api/managed-agents?all=true", nil, &listed); code != http.StatusOK {
			t.Fatalf("round %d: list: %d", round, code)
		}
		seen := map[string]bool{}
		for _, a := range listed {
			if a.ID == "" || a.Type == "" || a.Name == "" || a.Status == "" {
				t.Errorf("round %d: a half-written agent: %+v", round, a)
			}
			seen[a.ID] = true
		}
		for id := range created {
			if !seen[id] {
				t.Errorf("round %d: agent %s got a 201 and is gone; listed: %+v", round, id, listed)
			}
		}

		// The burst, until the kill.
		done := make(chan struct{})
		results := make(chan string, 100)
		go func() {
			defer close(results)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				var a agent
				code, err := h.doErr("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": echo, "name": fmt.Sprintf("r%d-%d", round, i)}, &a)
				if err != nil {
					return
				}
				if code == http.StatusCreated {
					results <- a.ID
					_, _ = h.doErr("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hi"}, nil)
					if i%3 == 0 {
						_, _ = h.doErr("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
					}
				}
			}
		}()
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		killHost(h)
		close(done)
		for id := range results {
			created[id] = true
		}
	}
	h := startHost(t, path)
	var listed []agent
	h.do("GET", "/api/managed-agents?all=true", nil, &listed)
	seen := map[string]bool{}
	for _, a := range listed {
		seen[a.ID] = true
	}
	for id := range created {
		if !seen[id] {
			t.Errorf("after the crash loop: agent %s got a 201 and is gone", id)
		}
	}
	if len(created) == 0 {
		t.Fatal("no spawn got a 201 in 20 rounds; the test shows nothing")
	}
	t.Logf("%d agents spawned across 20 kills, all accounted for", len(created))
}

func TestKeepAgentsLeavesThemRunningForTheNextStart(t *testing.T) {
	path := writeConfigServer(t, "  keep_agents = true", "", "")
	h := startHost(t, path)
	pidFile := filepath.Join(t.TempDir(), "pid")
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": sleeper(pidFile)}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	pgid := readPID(t, pidFile)
	plugin := findPluginPID("parallax-runtime-local")
	t.Cleanup(func() { _ = syscall.Kill(plugin, syscall.SIGKILL); _ = syscall.Kill(-pgid, syscall.SIGKILL) })

	h.stop() // SIGTERM, as Ctrl-C
	if !groupAlive(pgid) {
		t.Fatalf("keep_agents: the agent died with the host's clean stop; log:\n%s", h.logs())
	}
	h2 := startHost(t, path)
	var got agent
	if code := h2.do("GET", "/api/managed-agents/"+a.ID, nil, &got); code != http.StatusOK || got.Status == "stopped" || got.Status == "error" {
		t.Fatalf("the kept agent after the next start: %d %+v; log:\n%s", code, got, h2.logs())
	}
	if code := h2.do("DELETE", "/api/managed-agents/"+a.ID, nil, nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if groupAlive(pgid) {
		t.Errorf("the adopted agent's processes outlived its DELETE")
	}
}
