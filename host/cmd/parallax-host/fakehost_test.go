package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// fakeHost serves the parts of the API the CLI uses, with canned agents,
// and records what it was asked.
type fakeHost struct {
	t     *testing.T
	url   string
	token string

	mu   sync.Mutex
	reqs []fakeReq
	// starting is how many more GETs of an agent say "starting".
	starting int
	// input collects what terminal clients sent, one string a frame:
	// "binary ..." or "text ...".
	input []string
	// terminalExits makes the terminal WebSocket close as an exited
	// agent's does, right after the replay.
	terminalExits bool
	// inputDone is closed when a terminal client goes away.
	inputDone chan struct{}
}

type fakeReq struct {
	Method, Path string
	Body         map[string]any
}

const fakeAgent = `{"id":"a1","name":"worker","type":"custom","status":%q,"runtime":"local","createdAt":"2026-01-02T03:04:05Z",
 "capabilities":["review"],"role":"","workdir":"/src","command":["bash","--norc"]}`

const fakeAgents = `[
 {"id":"a1","name":"worker","type":"custom","status":"ready","runtime":"local","createdAt":"2026-01-02T03:04:05Z","capabilities":[],"role":"","workdir":""},
 {"id":"b2","name":"","type":"claude","status":"ready","runtime":"docker","createdAt":"2026-01-02T03:04:05Z","capabilities":[],"role":"","workdir":"",
  "pending":{"type":"question","question":"Trust this folder?","choices":["Yes","No"],"selected":0}}
]`

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, inputDone: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *fakeHost) requests() []fakeReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]fakeReq(nil), h.reqs...)
}

func (h *fakeHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		writeFake(w, 401, `{"error":"missing or wrong bearer token"}`)
		return
	}
	req := fakeReq{Method: r.Method, Path: r.URL.RequestURI()}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &req.Body); err != nil {
			h.t.Errorf("%s %s: body %q: %v", r.Method, r.URL, b, err)
		}
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	h.mu.Unlock()

	p := r.URL.Path
	switch {
	case p == "/ws/agents/a1/terminal":
		h.terminal(w, r)
	case p == "/ws/events":
		h.events(w, r)
	case strings.Contains(p, "/missing"):
		writeFake(w, 404, `{"error":"agent not found: \"missing\""}`)
	case r.Method == "POST" && p == "/api/managed-agents":
		if req.Body["workdir"] == "/bad" {
			writeFake(w, 400, `{"error":"\"/bad\" is not an existing directory","field":"workdir"}`)
			return
		}
		status := "ready"
		if h.starting > 0 {
			status = "starting"
		}
		writeFake(w, 201, fmt.Sprintf(fakeAgent, status))
	case r.Method == "GET" && p == "/api/managed-agents":
		writeFake(w, 200, fakeAgents)
	case r.Method == "GET" && p == "/api/managed-agents/a1":
		h.mu.Lock()
		status := "ready"
		if h.starting > 0 {
			h.starting--
			status = "starting"
		}
		h.mu.Unlock()
		writeFake(w, 200, fmt.Sprintf(fakeAgent, status))
	case r.Method == "DELETE" && p == "/api/managed-agents/a1":
		writeFake(w, 200, `{"id":"a1","name":"worker","type":"custom","status":"stopped","runtime":"local","createdAt":"2026-01-02T03:04:05Z",
			"capabilities":[],"role":"","workdir":"","exit":{"code":0,"signal":"SIGTERM","reason":"stopped by request"}}`)
	case r.Method == "POST" && p == "/api/managed-agents/a1/send":
		if req.Body["expectResponse"] == true {
			writeFake(w, 200, `{"message":{"content":"the reply","role":"assistant","time":"2026-01-02T03:04:05Z"}}`)
		} else {
			writeFake(w, 202, `{"status":"sent"}`)
		}
	case r.Method == "GET" && p == "/api/managed-agents/a1/logs":
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "log line (%s)\n", r.URL.RawQuery)
	case r.Method == "GET" && p == "/api/managed-agents/a1/metrics":
		writeFake(w, 200, `{"cpu":12.5,"memory":3221225472,"uptime":125000,"messageCount":4}`)
	case r.Method == "GET" && p == "/api/managed-agents/b2/metrics":
		writeFake(w, 200, `{"cpu":null,"memory":null,"uptime":1000,"messageCount":0}`)
	default:
		writeFake(w, 404, fmt.Sprintf(`{"error":"no route %s %s"}`, r.Method, p))
	}
}

func writeFake(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// terminal replays "replay$ ", then records what the client sends.
func (h *fakeHost) terminal(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	defer close(h.inputDone)
	ctx := r.Context()
	_ = c.Write(ctx, websocket.MessageBinary, []byte("replay$ "))
	if h.terminalExits {
		_ = c.Close(websocket.StatusNormalClosure, "agent exited")
		return
	}
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		kind := "binary"
		if typ == websocket.MessageText {
			kind = "text"
		}
		h.mu.Lock()
		h.input = append(h.input, kind+" "+string(b))
		h.mu.Unlock()
		if typ == websocket.MessageBinary {
			_ = c.Write(ctx, websocket.MessageBinary, bytes.ToUpper(b))
		}
	}
}

// events sends two events and ends the stream.
func (h *fakeHost) events(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := context.Background()
	for _, e := range []string{
		`{"event":"agent_started","agentId":"a1","time":"2026-01-02T03:04:05Z"}`,
		`{"event":"message","agentId":"a1","data":{"content":"hi","role":"assistant"},"time":"2026-01-02T03:04:06Z"}`,
	} {
		_ = c.Write(ctx, websocket.MessageText, []byte(e))
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}

// runClient runs a client command as parallax-host would, with env as
// the environment and stdin as standard input.
func runClient(args []string, env map[string]string, stdin io.Reader) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	std := stdio{stdin: stdin, stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	if std.stdin == nil {
		std.stdin = strings.NewReader("")
	}
	switch args[0] {
	case "agents":
		code = cmdAgents(args[1:], std)
	case "events":
		code = cmdEvents(args[1:], std)
	}
	return code, out.String(), errOut.String()
}
