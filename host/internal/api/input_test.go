package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/session"
)

// recordingAgents records what reached the agents, and answers Send and
// Get as set.
type recordingAgents struct {
	stubAgents
	sendErr error
	view    agents.View

	sent     string
	sendWait time.Duration
	stop     agents.StopOptions
	calls    int
}

func (r *recordingAgents) Send(_ context.Context, _, text string, _ bool, timeout time.Duration) (session.Message, error) {
	r.calls++
	r.sent, r.sendWait = text, timeout
	return session.Message{}, r.sendErr
}

func (r *recordingAgents) Delete(_ context.Context, _ string, opts agents.StopOptions) (agents.View, error) {
	r.calls++
	r.stop = opts
	return r.view, nil
}

func (r *recordingAgents) Get(string) (agents.View, error) { return r.view, nil }

func serve(t *testing.T, a Agents, method, path, body string) (int, errorBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "127.0.0.1" // the host's guard refuses other names
	Handler(Options{Agents: a, Runtimes: stubRuntimes{}}).ServeHTTP(rec, req)
	var e errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e
}

// Every refused input is a 400 naming its field and the range or fix, and
// reaches no agent.
func TestBadInputIs400AndNothingElse(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		field, want              string // want: in the error
	}{
		{"delete timeout NaN", "DELETE", "/api/managed-agents/x?timeout=NaN", "", "timeout", "0 to 3600"},
		{"delete timeout Inf", "DELETE", "/api/managed-agents/x?timeout=Inf", "", "timeout", "0 to 3600"},
		{"delete timeout -Inf", "DELETE", "/api/managed-agents/x?timeout=-Inf", "", "timeout", "0 to 3600"},
		{"delete timeout 1e300", "DELETE", "/api/managed-agents/x?timeout=1e300", "", "timeout", "0 to 3600"},
		{"delete timeout negative", "DELETE", "/api/managed-agents/x?timeout=-1", "", "timeout", "0 to 3600"},
		{"delete timeout too long", "DELETE", "/api/managed-agents/x?timeout=3601", "", "timeout", "0 to 3600"},
		{"delete timeout not a number", "DELETE", "/api/managed-agents/x?timeout=soon", "", "timeout", `got "soon"`},
		{"send timeout 1e300", "POST", "/api/managed-agents/x/send", `{"message":"hi","timeout":1e300}`, "timeout", "0 to 3600"},
		{"send timeout negative", "POST", "/api/managed-agents/x/send", `{"message":"hi","timeout":-0.5}`, "timeout", "0 to 3600"},
		{"send Ctrl-C", "POST", "/api/managed-agents/x/send", `{"message":"stop\u0003"}`, "message", "U+0003"},
		{"send the end of a paste", "POST", "/api/managed-agents/x/send", `{"message":"a\nb\u001b[201~c"}`, "message", "U+001B"},
		{"send a lone CR", "POST", "/api/managed-agents/x/send", `{"message":"a\rb"}`, "message", "U+000D"},
		{"send NUL", "POST", "/api/managed-agents/x/send", `{"message":"a\u0000"}`, "message", "U+0000"},
		{"send points at answer", "POST", "/api/managed-agents/x/send", `{"message":"\u0003"}`, "message", "POST /api/managed-agents/x/answer"},
		{"spawn timeout 1e300", "POST", "/api/managed-agents", `{"type":"custom","command":["bash"],"resources":{"timeout":1e300}}`, "resources.timeout", "8760h"},
		{"spawn timeout overflowing hours", "POST", "/api/managed-agents", `{"type":"custom","command":["bash"],"resources":{"timeout":"9999999999h"}}`, "resources.timeout", "8760h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &recordingAgents{}
			code, e := serve(t, a, tt.method, tt.path, tt.body)
			if code != 400 || e.Field != tt.field || !strings.Contains(e.Error, tt.want) {
				t.Errorf("%d %+v; want 400, field %q, an error with %q", code, e, tt.field, tt.want)
			}
			if a.calls != 0 {
				t.Errorf("the refused request reached the agents")
			}
		})
	}
}

// What is accepted reaches the agent as meant: \r\n becomes \n, seconds
// become a duration.
func TestGoodInputReachesTheAgent(t *testing.T) {
	a := &recordingAgents{}
	if code, e := serve(t, a, "POST", "/api/managed-agents/x/send", `{"message":"one\r\ntwo\tcols","timeout":1.5}`); code != 202 {
		t.Fatalf("send: %d %+v", code, e)
	}
	if a.sent != "one\ntwo\tcols" || a.sendWait != 1500*time.Millisecond {
		t.Errorf("Send got %q, %v; want %q, 1.5s", a.sent, a.sendWait, "one\ntwo\tcols")
	}
	if code, e := serve(t, a, "DELETE", "/api/managed-agents/x?timeout=0.25", ""); code != 200 {
		t.Fatalf("delete: %d %+v", code, e)
	}
	if a.stop.Timeout != 250*time.Millisecond {
		t.Errorf("Delete got timeout %v, want 250ms", a.stop.Timeout)
	}
}

// An agent that is gone, or goes during the send, is a 409 that says how
// it ended.
func TestSendToAnExitedAgentIs409WithItsExit(t *testing.T) {
	tests := []struct {
		name string
		err  error
		exit *agents.Exit
		want string
	}{
		{"failed mid-send", fmt.Errorf("%w: exited with code 7 (boom)", session.ErrFailed), &agents.Exit{Code: 7, Reason: "exited"}, "code 7 (exited)"},
		{"stopped", session.ErrStopped, &agents.Exit{Code: -1, Signal: "SIGKILL", Reason: "killed"}, "code -1 by SIGKILL (killed)"},
		{"lost, no exit known", session.ErrStopped, nil, "agent has stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &recordingAgents{sendErr: tt.err, view: agents.View{ID: "x", Exit: tt.exit}}
			code, e := serve(t, a, "POST", "/api/managed-agents/x/send", `{"message":"hi","expectResponse":true}`)
			if code != 409 || !strings.Contains(e.Error, tt.want) {
				t.Errorf("%d %+v; want 409 with %q", code, e, tt.want)
			}
			if (e.Exit == nil) != (tt.exit == nil) || e.Exit != nil && *e.Exit != *tt.exit {
				t.Errorf("exit %+v, want %+v", e.Exit, tt.exit)
			}
		})
	}
}
