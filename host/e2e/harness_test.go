// Package e2e tests the built binaries from the outside: parallax-host run
// on a config file, with runtime-local as a real plugin process, driven over
// REST.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
)

// bins holds the binaries TestMain builds.
var bins struct {
	dir, host, plugins string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parallax-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.host = filepath.Join(dir, "parallax-host")
	bins.plugins = filepath.Join(dir, "plugins")
	builds := [][]string{
		{"build", "-o", bins.host, "github.com/parallax/parallax/host/cmd/parallax-host"},
		{"build", "-o", filepath.Join(bins.plugins, "parallax-runtime-local"), "github.com/parallax/parallax/plugins/runtime-local"},
	}
	for _, args := range builds {
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", args, "failed:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// host is a running parallax-host.
type host struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	token  string
	logMu  sync.Mutex
	log    bytes.Buffer
	exited chan struct{}
}

// writeConfig writes a config for a host on a free loopback port, with
// localBody inside its runtime "local" block, and returns its path.
func writeConfig(t testing.TB, localBody string) string {
	return writeConfigWith(t, localBody, "")
}

// writeConfigWith is writeConfig with extra top-level blocks appended.
func writeConfigWith(t testing.TB, localBody, extra string) string {
	return writeConfigServer(t, "", localBody, extra)
}

// writeConfigServer is writeConfigWith with serverBody added to the server
// block.
func writeConfigServer(t testing.TB, serverBody, localBody, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`server {
  listen   = "127.0.0.1:0"
  data_dir = %q
%s
}
plugin_dir = %q
runtime "local" {
%s
}
%s
`, filepath.Join(dir, "data"), serverBody, bins.plugins, localBody, extra)
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startHost runs parallax-host on the config at path and waits until it
// listens. The host is stopped with SIGTERM at cleanup.
func startHost(t testing.TB, path string, env ...string) *host {
	t.Helper()
	h := &host{t: t, exited: make(chan struct{})}
	h.cmd = exec.Command(bins.host, "run", "-log-json", "-log-level", "debug", path)
	h.cmd.Env = append(os.Environ(), env...)
	// Its own process group, like a shell job, so a test can send Ctrl-C
	// to the whole group as a terminal does.
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
			line := sc.Text()
			h.logMu.Lock()
			h.log.WriteString(line + "\n")
			h.logMu.Unlock()
			var entry struct {
				Msg  string `json:"@message"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "host listening" {
				addr <- entry.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() { h.stop() })
	select {
	case a := <-addr:
		h.url = "http://" + a
	case <-h.exited:
		t.Fatalf("parallax-host exited before listening; log:\n%s", h.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("parallax-host did not listen within 60s; log:\n%s", h.logs())
	}
	return h
}

func (h *host) logs() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

// stop sends SIGTERM and waits for the host to exit.
func (h *host) stop() {
	select {
	case <-h.exited:
		return
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(60 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.exited
		h.t.Errorf("parallax-host did not exit within 60s of SIGTERM; log:\n%s", h.logs())
	}
}

// do sends a request and decodes a JSON response into out (if not nil).
func (h *host) do(method, path string, body any, out any) int {
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
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: status %d, body %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// raw sends a request without a body and returns the status and the body
// as it is.
func (h *host) raw(method, path string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.rawRequest(req)
}

// rawRequest sends req as it is, Host and all, with the host's token
// unless req has one, and returns the status and the body.
func (h *host) rawRequest(req *http.Request) (int, string) {
	h.t.Helper()
	if h.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// agent is the part of an agent's JSON the tests look at.
type agent struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Runtime string `json:"runtime"`
	Error   string `json:"error"`
	Workdir string `json:"workdir"`
	Pooled  bool   `json:"pooled"`
}

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// eventually waits up to 30 s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	runtimetest.Eventually(t, 30*time.Second, what, cond, nil)
}

// groupAlive reports whether any process of process group pgid exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// readPID waits for a pid file a test agent writes.
func readPID(t testing.TB, path string) int {
	t.Helper()
	var pid int
	eventually(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(strings.TrimSpace(string(b)), &pid)
		return err == nil && pid > 0
	})
	return pid
}

// waitStatus waits until agent id has status want, and returns it.
func (h *host) waitStatus(id, want string) agent {
	h.t.Helper()
	var a agent
	eventually(h.t, "agent "+id+" to be "+want, func() bool {
		h.do("GET", "/api/managed-agents/"+id, nil, &a)
		return a.Status == want
	})
	return a
}
