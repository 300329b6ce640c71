package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorded is one request a test server saw.
type recorded struct {
	method, path, query, auth string
	body                      map[string]any
}

// serve starts a server that records each request and answers with
// status and body.
func serve(t *testing.T, status int, body string) (*Client, *[]recorded) {
	t.Helper()
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, auth: r.Header.Get("Authorization")}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body %q: %v", b, err)
			}
		}
		reqs = append(reqs, rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	return c, &reqs
}

const agentJSON = `{"id":"a1","name":"w","type":"custom","status":"ready","runtime":"local","createdAt":"2026-01-02T03:04:05Z","capabilities":["x"],"role":"","workdir":"/tmp","future":1}`

func TestCallsSendRequestsAndDecodeReplies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		status      int
		body        string
		call        func(c *Client) (any, error)
		wantMethod  string
		wantPath    string
		wantQuery   string
		wantBody    string // JSON, compared as values; "" for none
		wantResult  func(t *testing.T, v any)
		wantRawKeys []string // fields the result's Raw keeps, unknown ones included
	}{
		{
			name: "spawn", status: 201, body: agentJSON,
			call: func(c *Client) (any, error) {
				return c.Spawn(ctx, SpawnRequest{
					Type: "custom", Name: "w", Capabilities: []string{"x"}, Env: map[string]string{"K": "V"},
					Credentials: &Credentials{AnthropicKey: "sk"}, Command: []string{"bash", "--norc"},
					Resources: &Resources{CPU: "500m", Memory: "2Gi", Timeout: 30 * time.Minute},
				})
			},
			wantMethod: "POST", wantPath: "/api/managed-agents",
			wantBody: `{"type":"custom","name":"w","capabilities":["x"],"env":{"K":"V"},"credentials":{"anthropicKey":"sk"},
				"command":["bash","--norc"],"resources":{"cpu":"500m","memory":"2Gi","timeout":"30m0s"}}`,
			wantResult: func(t *testing.T, v any) {
				if a := v.(Agent); a.ID != "a1" || a.Status != "ready" || a.CreatedAt.Year() != 2026 || a.Capabilities[0] != "x" {
					t.Errorf("agent = %+v", a)
				}
			},
			wantRawKeys: []string{"id", "future"},
		},
		{
			name: "list with filters", status: 200, body: "[" + agentJSON + "," + agentJSON + "]",
			call: func(c *Client) (any, error) {
				return c.List(ctx, ListOptions{Status: "ready", Capability: "review"})
			},
			wantMethod: "GET", wantPath: "/api/managed-agents", wantQuery: "capability=review&status=ready",
			wantResult: func(t *testing.T, v any) {
				if as := v.([]Agent); len(as) != 2 || !strings.Contains(string(as[1].Raw), `"future":1`) {
					t.Errorf("agents = %+v", as)
				}
			},
		},
		{
			name: "get escapes the id", status: 200, body: agentJSON,
			call:       func(c *Client) (any, error) { return c.Get(ctx, "a/b") },
			wantMethod: "GET", wantPath: "/api/managed-agents/a%2Fb",
		},
		{
			name: "send and wait", status: 200, body: `{"message":{"content":"hi","role":"assistant","time":"2026-01-02T03:04:05Z"}}`,
			call: func(c *Client) (any, error) {
				return c.Send(ctx, "a1", SendRequest{Message: "hello", ExpectResponse: true, Timeout: 90 * time.Second})
			},
			wantMethod: "POST", wantPath: "/api/managed-agents/a1/send",
			wantBody: `{"message":"hello","expectResponse":true,"timeout":90}`,
			wantResult: func(t *testing.T, v any) {
				if r := v.(SendResult); r.Message == nil || r.Message.Content != "hi" {
					t.Errorf("result = %+v", r)
				}
			},
		},
		{
			name: "send without waiting", status: 202, body: `{"status":"sent"}`,
			call:       func(c *Client) (any, error) { return c.Send(ctx, "a1", SendRequest{Message: "hello"}) },
			wantMethod: "POST", wantPath: "/api/managed-agents/a1/send", wantBody: `{"message":"hello"}`,
			wantResult: func(t *testing.T, v any) {
				if r := v.(SendResult); r.Status != "sent" || r.Message != nil {
					t.Errorf("result = %+v", r)
				}
			},
		},
		{
			name: "logs", status: 200, body: "line 1\nline 2\n",
			call:       func(c *Client) (any, error) { return c.Logs(ctx, "a1", LogOptions{Tail: 2, Raw: true}) },
			wantMethod: "GET", wantPath: "/api/managed-agents/a1/logs", wantQuery: "raw=true&tail=2",
			wantResult: func(t *testing.T, v any) {
				if got := string(v.([]byte)); got != "line 1\nline 2\n" {
					t.Errorf("logs = %q", got)
				}
			},
		},
		{
			name: "metrics without stats", status: 200, body: `{"cpu":null,"memory":null,"uptime":1500,"messageCount":2}`,
			call:       func(c *Client) (any, error) { return c.Metrics(ctx, "a1") },
			wantMethod: "GET", wantPath: "/api/managed-agents/a1/metrics",
			wantResult: func(t *testing.T, v any) {
				if m := v.(Metrics); m.CPU != nil || m.Memory != nil || m.Uptime != 1500 || m.MessageCount != 2 {
					t.Errorf("metrics = %+v", m)
				}
			},
		},
		{
			name: "stop", status: 200, body: agentJSON,
			call: func(c *Client) (any, error) {
				return c.Stop(ctx, "a1", StopOptions{Force: true, Timeout: 1500 * time.Millisecond})
			},
			wantMethod: "DELETE", wantPath: "/api/managed-agents/a1", wantQuery: "force=true&timeout=1.5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, reqs := serve(t, tt.status, tt.body)
			v, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(*reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(*reqs))
			}
			r := (*reqs)[0]
			if r.method != tt.wantMethod || r.path != tt.wantPath || r.query != tt.wantQuery || r.auth != "Bearer tok" {
				t.Errorf("request %s %s ?%s auth %q; want %s %s ?%s, Bearer tok", r.method, r.path, r.query, r.auth, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			if tt.wantBody != "" {
				var want map[string]any
				if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
					t.Fatal(err)
				}
				if got, _ := json.Marshal(r.body); string(got) != mustMarshal(t, want) {
					t.Errorf("body %s, want %s", got, mustMarshal(t, want))
				}
			}
			if tt.wantResult != nil {
				tt.wantResult(t, v)
			}
			if a, ok := v.(Agent); ok {
				for _, k := range tt.wantRawKeys {
					if !strings.Contains(string(a.Raw), `"`+k+`"`) {
						t.Errorf("Raw %s lacks %q", a.Raw, k)
					}
				}
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestErrorRepliesBecomeAPIErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantMsg   string
		wantField string
	}{
		{"field prefixed once", 400, `{"error":"workdir: not a directory","field":"workdir"}`, "workdir: not a directory", "workdir"},
		{"field added", 400, `{"error":"unknown field","field":"comand"}`, "comand: unknown field", "comand"},
		{"no field", 404, `{"error":"agent not found: \"x\""}`, `agent not found: "x"`, ""},
		{"not JSON", 502, `Bad Gateway from the proxy`, "HTTP 502: Bad Gateway from the proxy", ""},
		{"empty", 503, ``, "HTTP 503: Service Unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, tt.status, tt.body)
			_, err := c.Get(context.Background(), "x")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want an *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Error() != tt.wantMsg || ae.Field != tt.wantField {
				t.Errorf("got %d %q field %q; want %d %q field %q", ae.StatusCode, ae.Error(), ae.Field, tt.status, tt.wantMsg, tt.wantField)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	addr := closedAddr(t)
	c, err := New(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), ListOptions{})
	var ce *ConnError
	if !errors.As(err, &ce) || !errors.Is(err, syscall.ECONNREFUSED) || ce.Addr != "http://"+addr {
		t.Fatalf("error %v (%T), want a *ConnError that is ECONNREFUSED at http://%s", err, err, addr)
	}
	if _, err := c.Terminal(context.Background(), "a1"); !errors.As(err, &ce) {
		t.Errorf("terminal: error %v (%T), want a *ConnError", err, err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestCancelledIsNotAConnError(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, _ := New(srv.URL, "")
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if _, err := c.Get(ctx, "a1"); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestNewNormalisesOrRefusesAddresses(t *testing.T) {
	tests := []struct {
		addr, want, wantErr string
	}{
		{"127.0.0.1:3000", "http://127.0.0.1:3000", ""},
		{"http://h:1/", "http://h:1", ""},
		{"https://h/prefix/?x=1", "https://h/prefix", ""},
		{"", "", "no host address"},
		{"ftp://h", "", "want http://"},
	}
	for _, tt := range tests {
		c, err := New(tt.addr, "")
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("New(%q) error %v, want %q", tt.addr, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("New(%q): %v", tt.addr, err)
		case tt.wantErr == "" && c.Addr() != tt.want:
			t.Errorf("New(%q).Addr() = %q, want %q", tt.addr, c.Addr(), tt.want)
		}
	}
}
