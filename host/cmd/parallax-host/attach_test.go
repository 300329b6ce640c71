package main

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/parallax/parallax/sdk/runtimetest"
	"golang.org/x/term"
)

// syncBuffer is a bytes.Buffer that a command may write while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (h *fakeHost) inputs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.input...)
}

// startAttach runs "agents attach a1" with stdin in the background; the
// channel gets its exit code.
func startAttach(h *fakeHost, stdin io.Reader) (code chan int, stdout, stderr *syncBuffer) {
	code = make(chan int, 1)
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	std := stdio{stdin: stdin, stdout: stdout, stderr: stderr, getenv: envMap{"PARALLAX_ADDR": h.url}.get}
	go func() { code <- cmdAgents([]string{"attach", "a1"}, std) }()
	return code, stdout, stderr
}

// envMap is an environment for a command.
type envMap map[string]string

func (e envMap) get(k string) string { return e[k] }

func TestAttachPipeDetaches(t *testing.T) {
	h := newFakeHost(t)
	in, typing := io.Pipe()
	defer typing.Close()
	code, stdout, stderr := startAttach(h, in)

	if _, err := io.WriteString(typing, "hello"); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 30*time.Second, "the echo of hello", func() bool { return strings.Contains(stdout.String(), "replay$ HELLO") }, nil)
	// What follows Ctrl-] is not typed.
	if _, err := io.WriteString(typing, "wor\x1dignored"); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 0 {
		t.Fatalf("exit %d; stderr %s", c, stderr)
	}
	if got := stderr.String(); got != "detached from a1 (the agent keeps running)\n" {
		t.Errorf("stderr %q", got)
	}
	<-h.inputDone
	// A pipe has no size to send.
	if got, want := h.inputs(), []string{"binary hello", "binary wor"}; !slices.Equal(got, want) {
		t.Errorf("the host got %q, want %q", got, want)
	}
}

func TestAttachEndsWhenTheAgentExits(t *testing.T) {
	h := newFakeHost(t)
	h.terminalExits = true
	in, typing := io.Pipe()
	defer typing.Close()
	code, stdout, stderr := startAttach(h, in)
	if c := <-code; c != 0 {
		t.Fatalf("exit %d; stderr %s", c, stderr)
	}
	if stdout.String() != "replay$ " || !strings.HasPrefix(stderr.String(), "agent a1 exited") {
		t.Errorf("stdout %q, stderr %q; want the replay, then that the agent exited", stdout, stderr)
	}
}

// TestAttachTerminal attaches with a terminal on stdin: it is put in raw
// mode, so Ctrl-C is a byte for the agent, its size is sent, and it is
// restored after Ctrl-].
func TestAttachTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 31, Cols: 97}); err != nil {
		t.Fatal(err)
	}
	before, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHost(t)
	code, _, stderr := startAttach(h, tty)

	var resize map[string]any
	runtimetest.Eventually(t, 30*time.Second, "the resize", func() bool {
		in := h.inputs()
		return len(in) > 0 && json.Unmarshal([]byte(strings.TrimPrefix(in[0], "text ")), &resize) == nil
	}, nil)
	if resize["type"] != "resize" || resize["cols"] != 97.0 || resize["rows"] != 31.0 {
		t.Errorf("first message %v, want a resize to 97x31", resize)
	}
	if _, err := ptmx.Write([]byte("ab\x03")); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 30*time.Second, "the keys", func() bool {
		return strings.Contains(strings.Join(h.inputs(), ""), "binary ab\x03")
	}, nil)
	if _, err := ptmx.Write([]byte{0x1d}); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 0 {
		t.Fatalf("exit %d; stderr %s", c, stderr)
	}
	if !strings.Contains(stderr.String(), "detached from a1 (the agent keeps running)") {
		t.Errorf("stderr %q", stderr)
	}
	after, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Error("the terminal's mode was not restored")
	}
}
