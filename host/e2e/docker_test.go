package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here run agents on runtime-docker through the host. They need a
// Docker engine with the runtime-docker test image, which
// test/docker/setup.sh (run by make test) provides; without them they skip
// loudly, and fail under CI=true, where there must be an engine.

// dockerTestImage is what test/docker/setup.sh builds: FROM scratch with
// Debian's static busybox.
const dockerTestImage = "parallax/runtime-docker-test:busybox"

// needDocker skips (fails under CI) unless an engine runs and has the test
// image, and builds the docker plugin next to the local one.
func needDocker(t *testing.T) {
	t.Helper()
	why := ""
	if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", dockerTestImage).CombinedOutput(); err != nil {
		why = fmt.Sprintf("no engine with image %s: %v: %s", dockerTestImage, err, strings.TrimSpace(string(out)))
	}
	if why != "" {
		msg := "\n\n*** NO DOCKER ENGINE FOR THE runtime-docker END-TO-END TESTS ***\n" + why +
			"\nRun `sh test/docker/setup.sh` (make test does).\n"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "CI=true: a missing engine is a failure here, not a skip.")
		}
		t.Skip(msg)
	}
	if err := buildDockerPlugin(); err != nil {
		t.Fatalf("building parallax-runtime-docker: %v", err)
	}
}

var buildDockerPlugin = sync.OnceValue(func() error {
	cmd := exec.Command("go", "build", "-o", filepath.Join(bins.plugins, "parallax-runtime-docker"),
		"github.com/parallax/parallax/plugins/runtime-docker")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
})

// dockerRuntime is a runtime "docker" block on the test image.
const dockerRuntime = `
runtime "docker" {
  config {
    default_image = "` + dockerTestImage + `"
    images        = { claude = "` + dockerTestImage + `" }
    pull_policy   = "never"
    network       = "none"
  }
}
`

// fakeClaude draws what the claude adapter reads as Claude Code: a prompt
// box between two rules; a message makes it busy ("esc to interrupt"), then
// it answers with a "● " block naming the message and the terminal size.
// It is a busybox sh script, as the test image has nothing else.
const fakeClaude = `
rule='────────────────────────────────────────────────────────────'
frame() {
	printf '\033[2J\033[H%s%s\n❯ \0337\n%s\n  ? for shortcuts\0338' "$1" "$rule" "$rule"
}
frame ''
while IFS= read -r l; do
	l=$(printf '%s' "$l" | tr -d '\033\r'); l=${l#\[200~}; l=${l%\[201~}
	printf '\033[2J\033[H> %s\n\n✻ Thinking… (esc to interrupt)\n' "$l"
	sleep 0.3
	frame "> $l

● reply to: $l, size $(stty size)

"
done
`

// containersOf lists the containers of agent id, running or not.
func containersOf(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=parallax.agent="+id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestDockerRuntime_FakeClaudeRepliesResizesReportsAndLeavesNoContainer(t *testing.T) {
	needDocker(t)
	h := startHost(t, writeConfigWith(t, "", dockerRuntime))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "docker", "command": []string{"/bin/sh", "-c", fakeClaude},
		"resources": map[string]any{"memory": "64Mi"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn on runtime docker: status %d; log:\n%s", code, h.logs())
	}
	ctr := containersOf(t, a.ID)
	if ctr == "" {
		t.Fatalf("agent %s has no container", a.ID)
	}
	if out, err := exec.Command("docker", "inspect", "--format", "{{.HostConfig.Memory}}", ctr).Output(); err != nil ||
		strings.TrimSpace(string(out)) != fmt.Sprint(64<<20) {
		t.Errorf("container memory limit %q (%v), want 64Mi = %d", out, err, 64<<20)
	}
	h.waitStatus(a.ID, "ready")

	send := func(msg string) string {
		t.Helper()
		var resp struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		}
		code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{
			"message": msg, "expectResponse": true, "timeout": 30,
		}, &resp)
		if code != http.StatusOK {
			t.Fatalf("send %q: status %d; log:\n%s", msg, code, h.logs())
		}
		return resp.Message.Content
	}
	if got := send("hello"); !strings.Contains(got, "reply to: hello") {
		t.Errorf("reply %q, want one to hello", got)
	}

	tm := h.attachTerm(a.ID)
	tm.waitFor("reply to: hello")
	tm.resize(100, 30)
	// The size reaches the container's TTY, where the fake reads it.
	eventually(t, "the resize to reach the container", func() bool {
		return strings.Contains(send("size?"), "size 30 100")
	})

	var m struct {
		Memory *float64 `json:"memory"`
	}
	if code := h.do("GET", "/api/managed-agents/"+a.ID+"/metrics", nil, &m); code != http.StatusOK || m.Memory == nil || *m.Memory <= 0 {
		t.Errorf("metrics: status %d, memory %v; want memory > 0", code, m.Memory)
	}

	if code := h.do("DELETE", "/api/managed-agents/"+a.ID, nil, nil); code/100 != 2 {
		t.Fatalf("delete: status %d", code)
	}
	eventually(t, "the agent's container to be gone", func() bool { return containersOf(t, a.ID) == "" })
}

// The home the host pre-seeds for Claude Code reaches the container at
// /home/agent, naming the workdir as the agent sees it, /workspace.
func TestDockerRuntime_PreseededHomeNamesTheContainersPaths(t *testing.T) {
	needDocker(t)
	root := t.TempDir()
	workdir := filepath.Join(root, "repo")
	if err := os.Mkdir(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, writeConfigWith(t, "", strings.Replace(dockerRuntime, `network       = "none"`,
		fmt.Sprintf("network = \"none\"\n    workdir_roots = [%q]", root), 1)))
	key := "sk-ant-FAKE-preseed-0123456789abcdefghij"
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "docker", "workdir": workdir,
		"credentials": map[string]string{"anthropicKey": key},
		"command":     []string{"/bin/sh", "-c", `echo "home=$HOME pwd=$(pwd)"; cat "$HOME/.claude.json"; echo; cat "$HOME/.claude/settings.json"; echo; echo END; exec sleep 300`},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn on runtime docker: status %d; log:\n%s", code, h.logs())
	}
	tm := h.attachTerm(a.ID)
	tm.waitFor("END")
	out := strings.ReplaceAll(tm.output(), "\r\n", "\n")
	for _, want := range []string{
		"home=/home/agent pwd=/workspace",
		`"hasCompletedOnboarding": true`,
		`"/workspace": {`,
		`"hasTrustDialogAccepted": true`,
		key[len(key)-20:], // the approved key, by its last 20 characters
		`"skipDangerousModePermissionPrompt": true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the agent's view of its home lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, root) || strings.Contains(out, "agents/"+a.ID) {
		t.Errorf("the agent's home names paths of the host machine:\n%s", out)
	}
	h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
	eventually(t, "the agent's container to be gone", func() bool { return containersOf(t, a.ID) == "" })
}

func TestDockerRuntime_PluginKilledIsRestartedAndReadoptsTheContainer(t *testing.T) {
	needDocker(t)
	h := startHost(t, writeConfigWith(t, "", dockerRuntime))
	a := h.spawnShell("in-docker", map[string]any{"runtime": "docker", "command": []string{"/bin/sh", "-c",
		`while IFS= read -r l; do echo "got:$l:end"; done`}})
	h.waitStatus(a.ID, "ready")
	before := containersOf(t, a.ID)

	pid := pluginPID(t, "parallax-runtime-docker")
	if err := exec.Command("kill", "-KILL", fmt.Sprint(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new docker plugin process", func() bool {
		p := findPluginPID("parallax-runtime-docker")
		return p != 0 && p != pid
	})
	// The container lived through it and the agent is adopted, its
	// terminal working again.
	if got := containersOf(t, a.ID); got != before {
		t.Fatalf("containers of the agent before the kill %q, after %q", before, got)
	}
	h.waitStatus(a.ID, "ready")
	tm := h.attachTerm(a.ID)
	eventually(t, "input to reach the adopted agent", func() bool {
		tm.send("after-kill\n")
		time.Sleep(200 * time.Millisecond)
		return strings.Contains(tm.output(), "got:after-kill:end")
	})
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil); code/100 != 2 {
		t.Fatalf("delete: status %d", code)
	}
	eventually(t, "the agent's container to be gone", func() bool { return containersOf(t, a.ID) == "" })
}

// findPluginPID returns the pid of the running process whose executable
// is named name, or 0.
func findPluginPID(name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && filepath.Base(exe) == name && strings.HasPrefix(exe, bins.plugins) {
			return pid
		}
	}
	return 0
}

func pluginPID(t *testing.T, name string) int {
	t.Helper()
	var pid int
	eventually(t, name+" running", func() bool { pid = findPluginPID(name); return pid != 0 })
	return pid
}

// BenchmarkDockerSpawnToReady measures, through the host, the time from
// POST /api/managed-agents of the fake claude on runtime docker until the
// agent is ready, one agent at a time.
//
//	go test -run '^$' -bench DockerSpawnToReady -benchtime 1x ./host/e2e/
func BenchmarkDockerSpawnToReady(b *testing.B) {
	if out, err := exec.Command("docker", "image", "inspect", dockerTestImage).CombinedOutput(); err != nil {
		b.Skipf("no engine with %s: %v: %s", dockerTestImage, err, out)
	}
	if err := buildDockerPlugin(); err != nil {
		b.Fatal(err)
	}
	h := startHost(b, writeConfigWith(b, "", dockerRuntime))
	for b.Loop() {
		var ready []time.Duration
		for range 5 {
			began := time.Now()
			var a agent
			if code := h.do("POST", "/api/managed-agents", map[string]any{
				"type": "claude", "runtime": "docker", "command": []string{"/bin/sh", "-c", fakeClaude},
			}, &a); code != http.StatusCreated {
				b.Fatalf("spawn: status %d", code)
			}
			h.waitStatus(a.ID, "ready")
			ready = append(ready, time.Since(began))
			h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
		}
		slices.Sort(ready)
		p50 := float64(ready[len(ready)/2].Microseconds()) / 1000
		b.ReportMetric(p50, "spawn-to-ready-p50-ms")
		fmt.Printf("runtime-docker through the host, fake claude: spawn-to-ready p50 %.0f ms (of %d)\n", p50, len(ready))
	}
}
