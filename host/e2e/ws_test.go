package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// term is a terminal WebSocket client that collects what it receives.
type term struct {
	t    testing.TB
	c    *websocket.Conn
	mu   sync.Mutex
	out  bytes.Buffer
	err  error // why reading ended
	done chan struct{}
}

// dialWS opens a WebSocket on the host with its token, if it has one.
func (h *host) dialWS(ctx context.Context, path string, header http.Header) (*websocket.Conn, *http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	if h.token != "" && header.Get("Authorization") == "" {
		header.Set("Authorization", "Bearer "+h.token)
	}
	url := "ws" + strings.TrimPrefix(h.url, "http") + path
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
}

// attachTerm connects to agent id's terminal and reads in the background.
func (h *host) attachTerm(id string) *term {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := h.dialWS(ctx, "/ws/agents/"+id+"/terminal", nil)
	if err != nil {
		h.t.Fatalf("terminal websocket: %v", err)
	}
	c.SetReadLimit(64 << 20)
	tm := &term{t: h.t, c: c, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		for {
			_, b, err := c.Read(context.Background())
			tm.mu.Lock()
			if err != nil {
				tm.err = err
				tm.mu.Unlock()
				return
			}
			tm.out.Write(b)
			tm.mu.Unlock()
		}
	}()
	h.t.Cleanup(func() { c.CloseNow() })
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func (tm *term) send(s string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tm.c.Write(ctx, websocket.MessageBinary, []byte(s)); err != nil {
		tm.t.Fatalf("terminal write: %v", err)
	}
}

func (tm *term) resize(cols, rows int) {
	tm.t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "resize", "cols": cols, "rows": rows})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tm.c.Write(ctx, websocket.MessageText, b); err != nil {
		tm.t.Fatalf("terminal resize: %v", err)
	}
}

func (tm *term) waitFor(want string) {
	tm.t.Helper()
	eventually(tm.t, fmt.Sprintf("%q on the terminal", want), func() bool {
		return strings.Contains(tm.output(), want)
	})
}

// spawnShell starts a custom agent running an interactive sh.
func (h *host) spawnShell(name string, extra map[string]any) agent {
	h.t.Helper()
	req := map[string]any{"name": name, "type": "custom", "command": []string{"/bin/sh", "-i"}}
	for k, v := range extra {
		req[k] = v
	}
	var a agent
	if code := h.do("POST", "/api/managed-agents", req, &a); code != http.StatusCreated {
		h.t.Fatalf("spawn: status %d; log:\n%s", code, h.logs())
	}
	return h.waitStatus(a.ID, "ready")
}

func TestTerminalWebSocket_EchoResizeAndLateJoiner(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	a := h.spawnShell("term", nil)

	first := h.attachTerm(a.ID)
	// The arithmetic shows the shell ran it, not just echoed the keys.
	first.send("echo round-$((40+2))\r")
	first.waitFor("round-42")

	first.resize(101, 33)
	first.send("stty size\r")
	first.waitFor("33 101")

	// A late joiner gets the screen so far before anything new.
	late := h.attachTerm(a.ID)
	late.waitFor("round-42")
	late.waitFor("33 101")

	// Both watch; what either types reaches the one shell.
	late.send("echo both-$((1+1))\r")
	first.waitFor("both-2")
	late.waitFor("both-2")
	if n := strings.Count(late.output(), "round-42"); n != 1 {
		t.Errorf("late joiner saw round-42 %d times, want it once, not replayed twice; got:\n%s", n, late.output())
	}

	// The agent exiting closes the terminal normally.
	first.send("exit\r")
	select {
	case <-first.done:
	case <-time.After(30 * time.Second):
		t.Fatal("terminal websocket stayed open after the agent exited")
	}
	if websocket.CloseStatus(first.err) != websocket.StatusNormalClosure {
		t.Errorf("terminal closed with %v, want a normal closure", first.err)
	}
}

func TestTerminalWebSocket_StalledWatcherIsDroppedAndStallsNobody(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	a := h.spawnShell("flood", nil)

	reader := h.attachTerm(a.ID)
	// This client never reads. Its receive buffer is kept small, or the
	// kernel would take tens of MB for it before the host's queue fills.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	small := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stalled, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+"/ws/agents/"+a.ID+"/terminal",
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: small.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.CloseNow()

	// More than the host's socket send buffer (4 MiB at most) plus the
	// 1 MiB queue, in bursts the host keeps up with: the runtime skips
	// output a host reads too slowly, so a single flood might not all come.
	reader.send("for i in $(seq 60); do head -c 200000 /dev/zero | tr '\\0' x; sleep 0.05; done; echo; echo flood-$((6+1))\r")
	reader.waitFor("flood-7")
	eventually(t, "the host to drop the stalled client", func() bool {
		return strings.Contains(h.logs(), "dropped a terminal client that fell behind")
	})
	// The agent still answers.
	reader.send("echo after-$((2+2))\r")
	reader.waitFor("after-4")
}

func TestTerminalWebSocket_UnknownAgentIs404(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := h.dialWS(ctx, "/ws/agents/nope/terminal", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial = %v, %v; want a 404", resp, err)
	}
}

// eventStream collects the events of one /ws/events connection.
type eventStream struct {
	mu  sync.Mutex
	got []map[string]any
}

func (h *host) subscribe(query string) *eventStream {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := h.dialWS(ctx, "/ws/events"+query, nil)
	if err != nil {
		h.t.Fatalf("events websocket: %v", err)
	}
	h.t.Cleanup(func() { c.CloseNow() })
	es := &eventStream{}
	go func() {
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var e map[string]any
			if typ != websocket.MessageText || json.Unmarshal(b, &e) != nil {
				e = map[string]any{"event": "BAD FRAME", "data": string(b)}
			}
			es.mu.Lock()
			es.got = append(es.got, e)
			es.mu.Unlock()
		}
	}()
	return es
}

func (es *eventStream) events() []map[string]any {
	es.mu.Lock()
	defer es.mu.Unlock()
	return append([]map[string]any(nil), es.got...)
}

func (es *eventStream) has(event, agentID string) bool {
	for _, e := range es.events() {
		if e["event"] == event && e["agentId"] == agentID {
			return true
		}
	}
	return false
}

func TestEventsWebSocket_AllAndFilteredByAgent(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	all := h.subscribe("")
	one := h.spawnShell("one", nil)
	other := h.spawnShell("other", nil)
	mine := h.subscribe("?agentId=" + one.ID)

	eventually(t, "agent_started and agent_ready of both on the unfiltered stream", func() bool {
		return all.has("agent_started", one.ID) && all.has("agent_ready", other.ID)
	})
	for _, id := range []string{other.ID, one.ID} {
		if code := h.do("DELETE", "/api/managed-agents/"+id, nil, nil); code != http.StatusOK {
			t.Fatalf("delete %s: %d", id, code)
		}
	}
	eventually(t, "agent_stopped of both on the unfiltered stream", func() bool {
		return all.has("agent_stopped", one.ID) && all.has("agent_stopped", other.ID)
	})
	eventually(t, "agent_stopped on the filtered stream", func() bool { return mine.has("agent_stopped", one.ID) })
	for _, e := range mine.events() {
		if e["agentId"] != one.ID {
			t.Errorf("filtered stream got another agent's event: %v", e)
		}
		if _, ok := e["time"].(string); !ok {
			t.Errorf("event without a time: %v", e)
		}
	}
	for _, e := range all.events() {
		if e["event"] == "agent_stopped" {
			if data, _ := e["data"].(map[string]any); data["reason"] == nil {
				t.Errorf("agent_stopped without a reason: %v", e)
			}
		}
	}
}

func TestWebSockets_RequireTheTokenAndASameSiteOrigin(t *testing.T) {
	const token = "e2e-token-3b8f"
	h := startHost(t, writeConfigServer(t, `
  token           = env("PARALLAX_TEST_TOKEN")
  allowed_origins = ["https://trusted.example"]`, "", ""), "PARALLAX_TEST_TOKEN="+token)
	h.token = token
	a := h.spawnShell("guarded", nil)
	h.token = ""
	self := h.url // the host's own origin

	tests := []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"no token", "", nil, http.StatusUnauthorized},
		{"wrong token in the header", "", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"wrong token in the query", "?token=nope", nil, http.StatusUnauthorized},
		{"token in the header", "", http.Header{"Authorization": {"Bearer " + token}}, http.StatusSwitchingProtocols},
		{"token in the query", "?token=" + token, nil, http.StatusSwitchingProtocols},
		{"a page of the host itself", "?token=" + token, http.Header{"Origin": {self}}, http.StatusSwitchingProtocols},
		{"a page of an allowed site", "?token=" + token, http.Header{"Origin": {"https://trusted.example"}}, http.StatusSwitchingProtocols},
		{"a page of another site, with the token", "?token=" + token, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"a page of another site, with the header", "", http.Header{"Origin": {"http://evil.example"}, "Authorization": {"Bearer " + token}}, http.StatusForbidden},
		{"a page of the allowed site over http", "?token=" + token, http.Header{"Origin": {"http://trusted.example"}}, http.StatusForbidden},
		{"a page of the host's address on another port", "?token=" + token, http.Header{"Origin": {"http://127.0.0.1:1"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		for _, path := range []string{"/ws/agents/" + a.ID + "/terminal", "/ws/events"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, resp, err := h.dialWS(ctx, path+tt.query, tt.header)
				if c != nil {
					defer c.CloseNow()
				}
				if resp == nil {
					t.Fatalf("no HTTP response: %v", err)
				}
				if resp.StatusCode != tt.want {
					t.Fatalf("status %d (%v), want %d", resp.StatusCode, err, tt.want)
				}
			})
		}
	}
	if strings.Contains(h.logs(), token) {
		t.Error("the token appears in the host's log")
	}
}

func TestTerminalQueriesAreAnsweredWhileNoClientWatches(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	// Asks for the cursor position, as crossterm-based CLIs do at start,
	// and shows the answer it read.
	script := `stty -echo -icanon min 1; printf '\033[6n'; r=$(dd bs=1 count=6 2>/dev/null); printf 'got:%s\n' "$r" | cat -v; exec sleep 300`
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"/bin/sh", "-c", script}}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	eventually(t, "the program to read the host's answer", func() bool {
		_, logs := h.get("/api/managed-agents/" + a.ID + "/logs")
		return strings.Contains(logs, "got:^[[1;1R")
	})
}
