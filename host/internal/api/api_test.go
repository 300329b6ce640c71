package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
)

// stubAgents answers every call with err, so each error kind's HTTP status
// can be checked without runtimes; the e2e tests cover the real chain.
type stubAgents struct{ err error }

func (s stubAgents) Spawn(context.Context, agents.SpawnRequest) (agents.View, error) {
	return agents.View{}, s.err
}
func (s stubAgents) Send(context.Context, string, string, bool, time.Duration) (session.Message, error) {
	return session.Message{}, s.err
}
func (s stubAgents) Answer(string, []string, int) error { return s.err }
func (s stubAgents) ProvideCredentials(context.Context, string, string) (agents.View, error) {
	return agents.View{}, s.err
}
func (s stubAgents) Get(string) (agents.View, error)  { return agents.View{}, s.err }
func (s stubAgents) List(bool) ([]agents.View, error) { return nil, s.err }
func (s stubAgents) Live() []agents.View              { return nil }
func (s stubAgents) Messages(string) ([]agents.Message, error) {
	return nil, s.err
}
func (s stubAgents) Delete(context.Context, string, agents.StopOptions) (agents.View, error) {
	return agents.View{}, s.err
}

func (s stubAgents) Logs(string, int, bool) ([]byte, error) { return nil, s.err }
func (s stubAgents) Metrics(context.Context, string) (agents.Metrics, error) {
	return agents.Metrics{}, s.err
}
func (s stubAgents) Watch(string) (*agents.Watcher, error) { return nil, s.err }
func (s stubAgents) Input(string, []byte) error            { return s.err }
func (s stubAgents) Resize(string, int, int) error         { return s.err }

type stubRuntimes []runtimes.Status

func (s stubRuntimes) Statuses() []runtimes.Status { return s }

func TestErrorStatuses_WithStubAgents(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"bad input", &agents.InputError{Field: "name", Msg: "bad"}, 400},
		{"unknown id", fmt.Errorf("%w: %q", agents.ErrNotFound, "x"), 404},
		{"no healthy runtime", fmt.Errorf("%w: none of local is healthy", runtimes.ErrNoRuntime), 503},
		{"every runtime said the spec is invalid", &agents.SpawnError{Invalid: true, Msg: "local: no such command"}, 400},
		{"a runtime failed", &agents.SpawnError{Msg: "local: fork failed"}, 502},
		{"busy", fmt.Errorf("%w: still on the last message", session.ErrBusy), 409},
		{"waits for an answer", fmt.Errorf("%w: trust question", session.ErrBlocked), 409},
		{"no reaction", session.ErrNoReaction, 502},
		{"a choice not offered", fmt.Errorf("%w: 9 is not one of 1 to 3", session.ErrNoSuchChoice), 400},
		{"an unknown key", fmt.Errorf("%w %q", session.ErrUnknownKey, "F13"), 400},
		{"timeout", fmt.Errorf("waiting: %w", context.DeadlineExceeded), 504},
		{"anything else", fmt.Errorf("boom"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handler(Options{Hosts: testHosts, Agents: stubAgents{tt.err}, Runtimes: stubRuntimes{}})
			for _, req := range []*http.Request{
				httptest.NewRequest("POST", "/api/managed-agents", strings.NewReader(`{"type":"custom","command":["true"]}`)),
				httptest.NewRequest("GET", "/api/managed-agents/x", nil),
				httptest.NewRequest("DELETE", "/api/managed-agents/x", nil),
				httptest.NewRequest("POST", "/api/managed-agents/x/send", strings.NewReader(`{"message":"hi","expectResponse":true}`)),
				httptest.NewRequest("POST", "/api/managed-agents/x/answer", strings.NewReader(`{"choice":1}`)),
				httptest.NewRequest("POST", "/api/managed-agents/x/credentials", strings.NewReader(`{"apiKey":"k"}`)),
				httptest.NewRequest("GET", "/api/managed-agents/x/logs", nil),
				httptest.NewRequest("GET", "/api/managed-agents/x/metrics", nil),
				httptest.NewRequest("GET", "/ws/agents/x/terminal", nil),
			} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				var body errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
					t.Errorf("%s %s: body %q is not a JSON error", req.Method, req.URL, rec.Body)
				}
				if rec.Code != tt.want {
					t.Errorf("%s %s: status %d, want %d", req.Method, req.URL, rec.Code, tt.want)
				}
			}
		})
	}
}

func TestBodyErrorsNameTheProblem(t *testing.T) {
	tests := []struct {
		body, field, text string
	}{
		{``, "", "empty"},
		{`{"type":`, "", "not valid JSON"},
		{`{"type":"custom"} {}`, "", "more than one"},
		{`{"nmae":"x"}`, "nmae", "unknown field"},
		{`{"env":{"A":1}}`, "env", "want string"},
		{`{"resources":{"timeout":"soon"}}`, "resources.timeout", "30m"},
	}
	h := Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{}})
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/managed-agents", strings.NewReader(tt.body)))
		var body errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 400 || body.Field != tt.field || !strings.Contains(body.Error, tt.text) {
			t.Errorf("body %q: %d %+v; want 400 field %q error containing %q", tt.body, rec.Code, body, tt.field, tt.text)
		}
	}
}

func TestHealthIsDegradedWithoutAHealthyRuntime(t *testing.T) {
	tests := []struct {
		rts  stubRuntimes
		want int
	}{
		{stubRuntimes{{Name: "local", Healthy: true}}, 200},
		{stubRuntimes{{Name: "local", Healthy: false}}, 503},
		{stubRuntimes{}, 503},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: tt.rts}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
		if rec.Code != tt.want {
			t.Errorf("%+v: status %d, want %d", tt.rts, rec.Code, tt.want)
		}
	}
}

func TestTokenCheck(t *testing.T) {
	h := Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{}, Token: "tok"})
	tests := []struct {
		header string
		want   int
	}{
		{"", 401},
		{"Bearer nope", 401},
		{"tok", 401},
		{"Bearer tok", 200},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/api/managed-agents", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Authorization %q: %d, want %d", tt.header, rec.Code, tt.want)
		}
		if strings.Contains(rec.Body.String(), "tok\"") {
			t.Errorf("the token leaks into the response: %s", rec.Body)
		}
	}
}

// FuzzRequestBodies feeds arbitrary bodies to every route that takes
// JSON: the decoder must never panic, and a body it refuses gets a 400
// JSON error.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"type":"custom","command":["bash"]}`,
		`{"name":"a","type":"custom","command":["sh","-c","x"],"env":{"A":"b"},"resources":{"cpu":"500m","memory":"1Gi","timeout":30}}`,
		`{"resources":{"timeout":"5m"}}`, `{"type":1}`, `[]`, `null`, `{"env":null}`, ``, `{`, `{"a":1}{}`,
		`{"message":"hi","expectResponse":true,"timeout":3}`, `{"keys":["Up","Enter"]}`, `{"choice":2}`, `{"apiKey":"k"}`,
		`{"message":"stop\u0003"}`, `{"message":"a\r\nb\u001b[201~"}`, `{"message":"hi","timeout":1e300}`,
		`{"type":"custom","command":["bash"],"resources":{"timeout":1e300}}`,
	} {
		for route := range 4 {
			f.Add(uint8(route), seed)
		}
	}
	paths := []string{"/api/managed-agents", "/api/managed-agents/x/send", "/api/managed-agents/x/answer", "/api/managed-agents/x/credentials"}
	h := Handler(Options{Hosts: testHosts, Agents: stubAgents{fmt.Errorf("%w: stub", agents.ErrNotFound)}, Runtimes: stubRuntimes{}})
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := paths[int(route)%len(paths)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		var e errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s body %q: response %q is not a JSON error", path, body, rec.Body)
		}
		// Decoded bodies reach the stub, which answers 404; all else is 400.
		if rec.Code != 400 && rec.Code != 404 {
			t.Fatalf("%s body %q: status %d", path, body, rec.Code)
		}
	})
}
