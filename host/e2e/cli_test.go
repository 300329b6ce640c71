package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/parallax/parallax/sdk/runtimetest"
	xterm "golang.org/x/term"
)

// cli runs parallax-host with args as a client of h and returns its
// output and exit code.
func (h *host) cli(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.host, args...)
	cmd.Env = h.cliEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		h.t.Fatalf("parallax-host %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

func (h *host) cliEnv() []string {
	return append(os.Environ(), "PARALLAX_ADDR="+h.url, "PARALLAX_TOKEN="+h.token)
}

// mustCLI is cli for commands that must succeed; it returns stdout.
func (h *host) mustCLI(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.cli(args...)
	if code != 0 {
		h.t.Fatalf("parallax-host %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// lockedBuffer collects output a goroutine copies while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCLIAttachConnectsATerminalToAnAgent runs "parallax-host agents
// attach" on a real PTY, as a person would: it types into a shell agent,
// sees the output, resizes, detaches with Ctrl-], and the agent runs on.
func TestCLIAttachConnectsATerminalToAnAgent(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	id := strings.TrimSpace(h.mustCLI("agents", "spawn", "-q", "--wait", "--env", "PS1=cli$ ", "--", "bash", "--norc", "--noprofile"))
	if id == "" {
		t.Fatal("spawn -q printed no ID")
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 37, Cols: 111}); err != nil {
		t.Fatal(err)
	}
	ttyState, err := xterm.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	attach := exec.Command(bins.host, "agents", "attach", id)
	attach.Env = h.cliEnv()
	attach.Stdin, attach.Stdout, attach.Stderr = tty, tty, tty
	// The PTY is its controlling terminal, so resizing it sends SIGWINCH.
	attach.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := attach.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- attach.Wait() }()
	defer func() {
		if attach.ProcessState == nil {
			_ = attach.Process.Kill()
		}
	}()
	var screen lockedBuffer
	go func() { _, _ = io.Copy(&screen, ptmx) }()

	seen := func(what string) {
		t.Helper()
		eventually(t, what+" on the terminal", func() bool { return strings.Contains(screen.String(), what) })
	}
	typeKeys := func(s string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// The replay draws the prompt; output only shows once attach has put
	// the terminal in raw mode and sent its size.
	seen("cli$ ")
	typeKeys("stty size\r")
	seen("37 111")
	typeKeys("echo hi-$((1+2))\r")
	seen("hi-3")

	// Resizing the terminal resizes the agent's. The new size goes out
	// when attach gets SIGWINCH, so ask again until it has arrived.
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 42, Cols: 123}); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, time.Minute, "the agent's terminal to become 42x123", func() bool {
		typeKeys("stty size\r")
		time.Sleep(500 * time.Millisecond)
		return strings.Contains(screen.String(), "42 123")
	}, func() string { return "screen:\n" + screen.String() })

	typeKeys("\x1d")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("attach: %v; screen:\n%s", err, screen.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("attach did not exit after Ctrl-]; screen:\n%s", screen.String())
	}
	seen("detached from " + id + " (the agent keeps running)")
	if after, err := xterm.GetState(int(tty.Fd())); err != nil || !reflect.DeepEqual(after, ttyState) {
		t.Errorf("the terminal's mode was not restored (%v)", err)
	}

	var a agent
	if code := h.do("GET", "/api/managed-agents/"+id, nil, &a); code != 200 || a.Status == "stopped" || a.Status == "error" {
		t.Fatalf("after detaching: %d %+v; want the agent still running", code, a)
	}
	if logs := h.mustCLI("agents", "logs", id); !strings.Contains(logs, "hi-3") {
		t.Errorf("logs lack hi-3:\n%s", logs)
	}
	if out := h.mustCLI("agents", "stop", "--force", id); tableField(out, "STATUS") != "stopped" {
		t.Errorf("stop --force:\n%s", out)
	}
}

// tableField returns the value of field key in a table of fields, as
// "agents get" prints.
func tableField(table, key string) string {
	for line := range strings.Lines(table) {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestCLIManagesAgents drives an agent's life with the CLI: spawn, list,
// send, logs, metrics, events and stop.
func TestCLIManagesAgents(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))

	var spawned struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	out := h.mustCLI("agents", "spawn", "--name", "cli-worker", "--capability", "cli-test", "--env", "PS1=$ ", "--wait", "-o", "json", "--", "/bin/sh")
	if err := json.Unmarshal([]byte(out), &spawned); err != nil || spawned.ID == "" || spawned.Status != "ready" {
		t.Fatalf("spawn -o json printed %q (%v); want a ready agent", out, err)
	}
	id := spawned.ID

	events := exec.Command(bins.host, "events", "--agent", id, "-o", "json")
	events.Env = h.cliEnv()
	var eventLines, eventErr lockedBuffer
	events.Stdout, events.Stderr = &eventLines, &eventErr
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if events.ProcessState == nil {
			_ = events.Process.Kill()
			_ = events.Wait()
		}
	}()
	// The events client is subscribed once it prints an event; until
	// then, make some.
	runtimetest.Eventually(t, time.Minute, "events to print an event", func() bool {
		if eventLines.String() != "" {
			return true
		}
		h.mustCLI("agents", "send", id, "true", "--wait")
		return false
	}, func() string { return "stderr " + eventErr.String() })

	if out := h.mustCLI("agents", "list", "--capability", "cli-test"); !strings.Contains(out, id) || !strings.Contains(out, "cli-worker") || !strings.HasPrefix(out, "ID ") {
		t.Errorf("list:\n%s", out)
	}
	if out := h.mustCLI("agents", "list", "--capability", "no-such-capability", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list of none: %q, want []", out)
	}
	if out := h.mustCLI("agents", "send", id, "echo hello-$((40+2))", "--wait", "--timeout", "60"); out != "hello-42\n" {
		t.Errorf("send --wait printed %q, want the reply hello-42", out)
	}
	if out := h.mustCLI("agents", "logs", id, "--tail", "5"); !strings.Contains(out, "hello-42") {
		t.Errorf("logs:\n%s", out)
	}
	if out := h.mustCLI("agents", "metrics", id); !strings.Contains(out, "MESSAGES") {
		t.Errorf("metrics:\n%s", out)
	}
	if out := h.mustCLI("agents", "stop", id, "--timeout", "2"); tableField(out, "STATUS") != "stopped" {
		t.Errorf("stop:\n%s", out)
	}

	// The events client saw this agent's life, as JSON lines.
	eventually(t, "the agent_stopped event", func() bool { return strings.Contains(eventLines.String(), `"agent_stopped"`) })
	var sawMessage bool
	for line := range strings.Lines(eventLines.String()) {
		var e struct {
			Event   string         `json:"event"`
			AgentID string         `json:"agentId"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("events -o json printed a line that is not JSON: %q", line)
		}
		if e.Event == "message" && e.AgentID == id && e.Data["content"] == "hello-42" {
			sawMessage = true
		}
	}
	if !sawMessage {
		t.Errorf("no message event with the reply; events:\n%s", eventLines.String())
	}
	// Ctrl-C ends it cleanly.
	_ = events.Process.Signal(os.Interrupt)
	if err := events.Wait(); err != nil {
		t.Errorf("events after Ctrl-C: %v; stderr %s", err, eventErr.String())
	}

	_, errOut, code := h.cli("agents", "get", "no-such-agent")
	if code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("get of an unknown agent: exit %d, %q", code, errOut)
	}
	_, errOut, code = h.cli("agents", "spawn", "--type", "custom", "--workdir", "/does/not/exist", "--", "true")
	if code != 1 || !strings.Contains(errOut, "workdir") {
		t.Errorf("spawn in a missing workdir: exit %d, %q", code, errOut)
	}
}

// TestCLISaysWhenNoHostRuns checks the advice a client gets without a host.
func TestCLISaysWhenNoHostRuns(t *testing.T) {
	h := &host{t: t, url: "http://127.0.0.1:1"}
	_, errOut, code := h.cli("agents", "list")
	if code != 1 || !strings.Contains(errOut, "no parallax host is running at http://127.0.0.1:1") || !strings.Contains(errOut, "parallax-host run config.hcl") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
