package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/parallax/parallax/plugins/runtime-kubernetes/internal/testcluster"
	"github.com/parallax/parallax/plugins/runtime-kubernetes/internal/testkubelet"
)

// The end-to-end test runs the built parallax-host with this plugin on a
// real API server (see internal/testcluster; the fake kubelet runs pods as
// local processes) and drives it over REST, as a user would.

// fakeClaude draws what the claude adapter reads as Claude Code's prompt,
// and answers each line with a "● " block.
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

● reply to: $l

"
done
`

func TestHostSpawnsSendsAndDeletesOnKubernetes(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinaries(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, testcluster.Options{KubeletPort: l.Addr().(*net.TCPAddr).Port, KubeletDeletesPods: true})
	testkubelet.Start(t, c.Client, testkubelet.Options{Listener: l})

	config := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`server {
  listen   = "127.0.0.1:0"
  data_dir = %q
}
plugin_dir = %q
runtime "kubernetes" {
  config {
    kubeconfig           = %q
    namespace            = %q
    images               = { claude = "parallax/agent-claude:test" }
    default_stop_timeout = "3s"
  }
}
`, filepath.Join(dir, "data"), filepath.Join(bin, "plugins"), c.Kubeconfig, c.Namespace)), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, filepath.Join(bin, "parallax-host"), config)

	var runtimes []struct {
		Name    string `json:"name"`
		Healthy bool   `json:"healthy"`
	}
	h.do("GET", "/api/runtimes", nil, &runtimes)
	if len(runtimes) != 1 || runtimes[0].Name != "kubernetes" || !runtimes[0].Healthy {
		t.Fatalf("runtimes %+v; want kubernetes, healthy; log:\n%s", runtimes, h.logs())
	}

	var a struct {
		ID, Status, Runtime string
	}
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "kubernetes", "command": []string{"/bin/sh", "-c", fakeClaude},
		"credentials": map[string]string{"anthropicKey": "sk-ant-FAKE-e2e-0123456789abcdef"},
		"resources":   map[string]any{"cpu": "500m", "memory": "256Mi"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: status %d; log:\n%s", code, h.logs())
	}
	if a.Runtime != "kubernetes" {
		t.Errorf("agent runtime %q", a.Runtime)
	}
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "parallax.agent=" + a.ID})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of agent %s: %v %v", a.ID, pods, err)
	}
	pod := pods.Items[0]
	if img := pod.Spec.Containers[0].Image; img != "parallax/agent-claude:test" {
		t.Errorf("image %q, want the claude image of the config", img)
	}
	h.waitStatus(a.ID, "ready")

	var reply struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hello", "expectResponse": true, "timeout": 60}, &reply); code != http.StatusOK || !strings.Contains(reply.Message.Content, "reply to: hello") {
		t.Fatalf("send: status %d, reply %q; log:\n%s", code, reply.Message.Content, h.logs())
	}

	// No metrics-server here: no figures, not zeros.
	var m map[string]any
	if code := h.do("GET", "/api/managed-agents/"+a.ID+"/metrics", nil, &m); code != http.StatusOK || m["memory"] != nil || m["uptime"] == nil {
		t.Errorf("metrics: status %d, %v; want uptime and no memory figure", code, m)
	}

	if code := h.do("DELETE", "/api/managed-agents/"+a.ID, nil, nil); code/100 != 2 {
		t.Fatalf("delete: status %d", code)
	}
	for _, get := range []func() error{
		func() error {
			_, err := c.Client.CoreV1().Pods(c.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := c.Client.CoreV1().Secrets(c.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("after DELETE: %v; want the pod and its secret gone", err)
		}
	}

	// The home the host pre-seeds reaches the pod, naming the workdir as
	// the pod sees it.
	var seeded struct{ ID string }
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "kubernetes", "workdir": t.TempDir(),
		"command": []string{"/bin/sh", "-c", `cat "$HOME/.claude.json"; echo; echo END-OF-HOME; exec sleep 300`},
	}, &seeded); code != http.StatusCreated {
		t.Fatalf("spawn: status %d; log:\n%s", code, h.logs())
	}
	var logs string
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs, "END-OF-HOME") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		logs = h.text("/api/managed-agents/" + seeded.ID + "/logs")
	}
	if !strings.Contains(logs, `"hasCompletedOnboarding": true`) || !strings.Contains(logs, `"/workspace"`) {
		t.Errorf("the agent's $HOME/.claude.json, as it printed it:\n%s", logs)
	}
	h.do("DELETE", "/api/managed-agents/"+seeded.ID+"?force=true", nil, nil)

	// A pod no node can hold fails the spawn with the scheduler's reason.
	var spawnErr struct {
		Error string `json:"error"`
	}
	code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "runtime": "kubernetes", "command": []string{"sh"}, "resources": map[string]any{"cpu": "1000"},
	}, &spawnErr)
	if code/100 == 2 || !strings.Contains(spawnErr.Error, "Insufficient cpu") {
		t.Errorf("spawn of a pod too big for any node: status %d, %q; want the scheduler's reason", code, spawnErr.Error)
	}
}

// buildBinaries builds parallax-host and this plugin into dir/bin.
func buildBinaries(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(bin, "parallax-host"), "github.com/parallax/parallax/host/cmd/parallax-host"},
		{"build", "-o", filepath.Join(bin, "plugins", "parallax-runtime-kubernetes"), "."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %v: %v", args, err)
		}
	}
	return bin
}

// host is a running parallax-host.
type host struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	logMu  sync.Mutex
	log    bytes.Buffer
	exited chan struct{}
}

// startHost runs bin on config and waits until it listens; SIGTERM at
// cleanup.
func startHost(t *testing.T, bin, config string) *host {
	t.Helper()
	h := &host{t: t, exited: make(chan struct{})}
	h.cmd = exec.Command(bin, "run", "-log-json", "-log-level", "debug", config)
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := h.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			h.logMu.Lock()
			h.log.WriteString(sc.Text() + "\n")
			h.logMu.Unlock()
			var entry struct {
				Msg  string `json:"@message"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "host listening" {
				addr <- entry.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("parallax-host did not exit within a minute of SIGTERM; log:\n%s", h.logs())
		}
	})
	select {
	case a := <-addr:
		h.url = "http://" + a
	case <-h.exited:
		t.Fatalf("parallax-host exited before listening; log:\n%s", h.logs())
	case <-time.After(time.Minute):
		t.Fatalf("parallax-host did not listen within a minute; log:\n%s", h.logs())
	}
	return h
}

func (h *host) logs() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

// do sends a JSON request and decodes the reply into out, if not nil.
func (h *host) do(method, path string, body, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: status %d, body %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// text GETs path and returns the body.
func (h *host) text(path string) string {
	h.t.Helper()
	resp, err := http.Get(h.url + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitStatus waits for agent id to reach status.
func (h *host) waitStatus(id, status string) {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var a struct{ Status, Error string }
	for time.Now().Before(deadline) {
		h.do("GET", "/api/managed-agents/"+id, nil, &a)
		if a.Status == status {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("agent %s is %q (%s), not %q; log:\n%s", id, a.Status, a.Error, status, h.logs())
}
