package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// pipeRuntime is a fake runtime whose agents' terminal output is what the
// test writes to out, and whose input the test reads from typed. It is
// served over real gRPC, to a real agents.Manager.
type pipeRuntime struct {
	*fakeruntime.Runtime
	out   *io.PipeReader
	outW  *io.PipeWriter
	mu    sync.Mutex
	typed bytes.Buffer
	input chan struct{} // poked on each input
}

func newPipeRuntime() *pipeRuntime {
	r, w := io.Pipe()
	return &pipeRuntime{Runtime: &fakeruntime.Runtime{Name: "pipe"}, out: r, outW: w, input: make(chan struct{}, 1)}
}

func (p *pipeRuntime) Attach(context.Context, string) (io.ReadWriteCloser, error) {
	return pipeConn{p}, nil
}

type pipeConn struct{ p *pipeRuntime }

func (c pipeConn) Read(b []byte) (int, error) { return c.p.out.Read(b) }
func (c pipeConn) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	c.p.typed.Write(b)
	c.p.mu.Unlock()
	select {
	case c.p.input <- struct{}{}:
	default:
	}
	return len(b), nil
}
func (c pipeConn) Close() error { return nil }

func (p *pipeRuntime) typedText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.typed.String()
}

// oneRuntime offers one runtime for every spawn.
type oneRuntime struct{ c runtimes.Candidate }

func (o oneRuntime) Candidates(string) ([]runtimes.Candidate, error) {
	return []runtimes.Candidate{o.c}, nil
}
func (o oneRuntime) Get(string) (runtimes.Plugin, error) { return o.c.Plugin, nil }
func (oneRuntime) Kick(string)                           {}

// terminalHost is an agents.Manager with one agent on a pipeRuntime,
// behind the API on a real listener.
type terminalHost struct {
	rt    *pipeRuntime
	m     *agents.Manager
	id    string
	url   string // ws://…/ws/agents/<id>/terminal
	logMu sync.Mutex
	log   bytes.Buffer
}

func (h *terminalHost) Write(p []byte) (int, error) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.Write(p)
}

func (h *terminalHost) logs() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

// startTerminalHost serves the API; sndbuf, if positive, is the socket
// send buffer of the connections it accepts.
func startTerminalHost(t *testing.T, sndbuf int) *terminalHost {
	t.Helper()
	h := &terminalHost{rt: newPipeRuntime()}
	client := plugin.TestClient(t, h.rt)
	if err := client.Configure(context.Background(), runtime.ConfigureRequest{Config: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	h.m = agents.NewManager(hclog.NewNullLogger(), oneRuntime{runtimes.Candidate{Name: "pipe", Plugin: client}}, agents.Options{DataDir: t.TempDir()})
	t.Cleanup(func() {
		h.rt.outW.Close()
		h.m.Shutdown(context.Background())
	})
	v, err := h.m.Spawn(context.Background(), agents.SpawnRequest{Type: "custom", Command: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	h.id = v.ID
	log := hclog.New(&hclog.LoggerOptions{Output: h, Level: hclog.Debug})
	srv := httptest.NewUnstartedServer(Handler(Options{Agents: h.m, Runtimes: stubRuntimes{}, Logger: log}))
	if sndbuf > 0 {
		srv.Listener = sndbufListener{srv.Listener, sndbuf}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/agents/" + h.id + "/terminal"
	return h
}

type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// dial connects to the terminal; rcvbuf, if positive, is the client's
// socket receive buffer, set before connecting so the window honours it.
func (h *terminalHost) dial(t *testing.T, rcvbuf int) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// A client that stops reading is dropped, and when it reads again it gets
// everything that was on its way, then the close 1008 "too slow" the
// README promises, not a connection cut mid-frame.
func TestSlowTerminalClientGetsClose1008(t *testing.T) {
	h := startTerminalHost(t, 8<<10)
	c := h.dial(t, 4<<10)

	// Past the 1 MiB queue, the write under way (at most the queue) and
	// the small socket buffers: the client must fall behind. The marker
	// at the end shows when the host has taken it all.
	chunk := bytes.Repeat([]byte(strings.Repeat("x", 63)+"\n"), 1<<10)
	for range 8 << 20 / len(chunk) {
		if _, err := h.rt.outW.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.rt.outW.Write([]byte("end-of-flood")); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 30*time.Second, "the host to take all the output", func() bool {
		raw, err := h.m.Logs(h.id, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.HasSuffix(raw, []byte("end-of-flood"))
	}, nil)
	// The output went to the watchers under the terminal lock; a Watch
	// takes it, so by now the client was dropped.
	w, err := h.m.Watch(h.id)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := 0
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too slow" {
				t.Fatalf("after %d bytes the connection ended with %v; want close 1008 \"too slow\"", got, err)
			}
			break
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("a %v frame %.80q; want only output", typ, b)
		}
		got += len(b)
	}
	if got >= 8<<20 {
		t.Errorf("the client got all %d bytes: it was never dropped", got)
	}
	if !strings.Contains(h.logs(), "dropped a terminal client that fell behind") {
		t.Errorf("no drop in the log:\n%s", h.logs())
	}
}

// A control message that can't be carried out is answered with an error
// frame and never typed into the agent; other text is typed.
func TestTerminalControlMessages(t *testing.T) {
	h := startTerminalHost(t, 0)
	c := h.dial(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nextText := func() terminalError {
		t.Helper()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if typ != websocket.MessageText {
				continue // output
			}
			var e terminalError
			if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error == "" {
				t.Fatalf("text frame %q is not an error frame", b)
			}
			return e
		}
	}
	bad := []struct{ frame, want string }{
		{`{"type":"resize","cols":1e20,"rows":40}`, "cols must be a whole number from 1 to 1000, got 1e20"},
		{`{"type":"resize","cols":"80","rows":40}`, `cols must be a whole number from 1 to 1000, got "80"`},
		{`{"type":"resize","cols":0,"rows":40}`, "cols must be"},
		{`{"type":"resize","cols":80,"rows":65536}`, "rows must be"},
		{`{"type":"resize","cols":80.5,"rows":40}`, "cols must be"},
		{`{"type":"resize","rows":40}`, "cols is missing"},
		{`  {"type":"resize","cols":80`, "not valid JSON"},
		{`{"type":"reboot"}`, `unknown type "reboot"`},
		{`{"type":7}`, "type must be a string"},
	}
	for _, b := range bad {
		if err := c.Write(ctx, websocket.MessageText, []byte(b.frame)); err != nil {
			t.Fatal(err)
		}
		if e := nextText(); !strings.Contains(e.Error, b.want) {
			t.Errorf("frame %s: error %q; want %q", b.frame, e.Error, b.want)
		}
	}
	// Input is handled in order: once this is typed, the frames before it
	// were handled too.
	for _, frame := range []string{`{"json":"typed as it is"}`, "\n", `{"type":"resize","cols":100,"rows":30}`, "done"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for !strings.HasSuffix(h.rt.typedText(), "done") {
		select {
		case <-h.rt.input:
		case <-ctx.Done():
			t.Fatalf("the agent got %q, never \"done\"", h.rt.typedText())
		}
	}
	if got, want := h.rt.typedText(), "{\"json\":\"typed as it is\"}\ndone"; got != want {
		t.Errorf("the agent got %q; want %q: no control message typed", got, want)
	}
}

func TestClassifyFrame(t *testing.T) {
	text, binary := websocket.MessageText, websocket.MessageBinary
	tests := []struct {
		typ  websocket.MessageType
		data string
		kind frameKind
		want string // the resize as cols x rows, or in the error
	}{
		{text, `{"type":"resize","cols":120,"rows":40}`, frameResize, "120x40"},
		{text, ` {"rows":1,"type":"resize","cols":1000,"extra":true}`, frameResize, "1000x1"},
		{binary, `{"type":"resize","cols":1e20}`, frameInput, ""},
		{text, `ls -la`, frameInput, ""},
		{text, `{"a":1}`, frameInput, ""},
		{text, `{not json`, frameInput, ""},
		{text, `{"type":"resize","cols":1e20,"rows":1}`, frameError, "cols"},
		{text, `{"type":"resize","cols":-1,"rows":1}`, frameError, "cols"},
		{text, `{"type":"resize","cols":1,"rows":null}`, frameError, "rows"},
		{text, `{"type":"resize","cols":1,"rows":[1]}`, frameError, "rows"},
		{text, `{"type":"resize","cols":1,"rows":1001}`, frameError, "rows"},
		{text, `{"type":"resize"`, frameError, "not valid JSON"},
		{text, `{"type":null}`, frameError, "must be a string"},
		{text, `{"type":"RESIZE","cols":1,"rows":1}`, frameError, "unknown type"},
	}
	for _, tt := range tests {
		kind, m, problem := classifyFrame(tt.typ, []byte(tt.data))
		got := problem
		if kind == frameResize {
			got = fmt.Sprintf("%dx%d", m.Cols, m.Rows)
		}
		if kind != tt.kind || !strings.Contains(got, tt.want) {
			t.Errorf("classifyFrame(%v, %s) = %v, %q; want %v, %q", tt.typ, tt.data, kind, got, tt.want, tt.want)
		}
	}
}

// FuzzTerminalFrame: whatever a client sends, the frame is a resize that
// the agents manager takes, an error frame, or input; never a panic, and
// never a control message typed.
func FuzzTerminalFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"resize","cols":80,"rows":24}`, `{"type":"resize","cols":1e20,"rows":1}`, `{"type":"resize","cols":"80"}`,
		`{"type":"resize","cols":0,"rows":0}`, `{"type":"resize","cols":65536,"rows":1}`, `{"type":"resize"`, `{"type":1}`,
		`{"a":1}`, ` {"type":"x"}`, `{`, "", "\x03", `{"type":"resize","cols":80,"rows":24,"type":"other"}`,
	} {
		f.Add(true, []byte(seed))
		f.Add(false, []byte(seed))
	}
	// The real manager: its Resize checks the size before the id.
	m := agents.NewManager(hclog.NewNullLogger(), nil, agents.Options{})
	f.Fuzz(func(t *testing.T, isText bool, data []byte) {
		typ := websocket.MessageBinary
		if isText {
			typ = websocket.MessageText
		}
		kind, rm, problem := classifyFrame(typ, data)
		switch kind {
		case frameResize:
			if err := m.Resize("none", rm.Cols, rm.Rows); !errors.Is(err, agents.ErrNotFound) {
				t.Fatalf("%q: resize %dx%d is refused by the manager: %v", data, rm.Cols, rm.Rows, err)
			}
		case frameError:
			if !isText || problem == "" {
				t.Fatalf("%q: an error frame %q for a binary frame or without a message", data, problem)
			}
		case frameInput:
			var obj map[string]json.RawMessage
			if isText && json.Unmarshal(bytes.TrimLeft(data, " \t\r\n"), &obj) == nil {
				if _, hasType := obj["type"]; hasType {
					t.Fatalf("%q: a control message would be typed", data)
				}
			}
		default:
			t.Fatalf("%q: kind %v", data, kind)
		}
	})
}

func TestOpenAPITerminalErrorMatchesTheGoType(t *testing.T) {
	s := schema(t, loadOpenAPI(t), "TerminalError")
	all, always := jsonFields(reflect.TypeOf(terminalError{}))
	props, _ := s["properties"].(map[string]any)
	if got := keys(props); !slices.Equal(got, all) {
		t.Errorf("properties %q, want %q", got, all)
	}
	if got := sorted(strs(s["required"])); !slices.Equal(got, always) {
		t.Errorf("required %q, want %q", got, always)
	}
}
