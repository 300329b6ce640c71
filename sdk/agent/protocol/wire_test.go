package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/parallax/parallax/sdk/agent/protocol"
	"github.com/parallax/parallax/sdk/agent/protocol/internal/agentv1"
)

// These tests speak the wire protocol directly, as an agent or caller
// written without this package would.

// wireAgent does what the task's description names.
func wireAgent() *fakeAgent {
	return &fakeAgent{
		health: protocol.Health{Healthy: false, Message: "loading model"},
		execute: func(ctx context.Context, task protocol.Task, out io.Writer) (protocol.Result, error) {
			switch task.Description {
			case "fail":
				return protocol.Result{}, errors.New("boom")
			case "busy":
				return protocol.Result{}, fmt.Errorf("%w: busy", protocol.ErrUnavailable)
			case "slow":
				<-ctx.Done()
				return protocol.Result{}, ctx.Err()
			case "binary":
				return protocol.Result{Result: []byte{0xff, 0xfe}}, nil
			}
			return echo(ctx, task, out)
		},
	}
}

func TestWireErrors(t *testing.T) {
	tests := []struct {
		description string
		timeoutMs   int64
		code        codes.Code
		status      int
	}{
		{"", 0, codes.InvalidArgument, http.StatusBadRequest},
		{"x", -5, codes.InvalidArgument, http.StatusBadRequest},
		{"fail", 0, codes.Unknown, http.StatusInternalServerError},
		{"busy", 0, codes.Unavailable, http.StatusServiceUnavailable},
		{"slow", 50, codes.DeadlineExceeded, http.StatusGatewayTimeout},
	}
	s := serve(t, wireAgent())
	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	rpc := agentv1.NewAgentClient(conn)

	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%dms", tt.description, tt.timeoutMs), func(t *testing.T) {
			_, err := rpc.ExecuteTask(t.Context(), &agentv1.TaskRequest{Description: tt.description, TimeoutMs: tt.timeoutMs})
			if got := status.Code(err); got != tt.code {
				t.Errorf("gRPC code = %v (%v), want %v", got, err, tt.code)
			}

			body := fmt.Sprintf(`{"description": %q, "timeout": %d}`, tt.description, tt.timeoutMs)
			code, answer := post(t, "http://"+s.http+"/execute", body)
			if code != tt.status {
				t.Errorf("HTTP status = %d, want %d", code, tt.status)
			}
			assertErrorBody(t, answer)
		})
	}

	t.Run("StreamOutput without task id", func(t *testing.T) {
		stream, err := rpc.StreamOutput(t.Context(), &agentv1.OutputRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if got := status.Code(err); got != codes.InvalidArgument {
			t.Errorf("gRPC code = %v (%v), want InvalidArgument", got, err)
		}
	})
}

func TestHTTPShapes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // JSON; empty for an error body
		wantTask   *protocol.Task
	}{
		{
			name:   "text data",
			method: "POST", path: "/execute",
			body:       `{"taskId": "t1", "description": "fix", "data": "the <bug>", "timeout": 250}`,
			wantStatus: 200,
			wantBody:   `{"taskId": "t1", "result": "the <bug>", "confidence": 0.75, "reasoning": "did fix"}`,
			wantTask:   &protocol.Task{ID: "t1", Description: "fix", Data: []byte("the <bug>"), Timeout: 250 * time.Millisecond},
		},
		{
			name:   "JSON data",
			method: "POST", path: "/execute",
			body:       `{"taskId": "t2", "description": "review", "data": {"files": ["a.go"]}}`,
			wantStatus: 200,
			wantBody:   `{"taskId": "t2", "result": {"files": ["a.go"]}, "confidence": 0.75, "reasoning": "did review"}`,
			wantTask:   &protocol.Task{ID: "t2", Description: "review", Data: []byte(`{"files": ["a.go"]}`)},
		},
		{
			name:   "no data",
			method: "POST", path: "/execute",
			body:       `{"description": "ping"}`,
			wantStatus: 200,
			wantBody:   `{"taskId": "", "result": null, "confidence": 0.75, "reasoning": "did ping"}`,
			wantTask:   &protocol.Task{Description: "ping"},
		},
		{
			name:   "malformed JSON",
			method: "POST", path: "/execute",
			body:       `{"description": `,
			wantStatus: 400,
		},
		{
			name:   "timeout not in milliseconds",
			method: "POST", path: "/execute",
			body:       `{"description": "x", "timeout": "5s"}`,
			wantStatus: 400,
		},
		{
			name:   "binary result",
			method: "POST", path: "/execute",
			body:       `{"description": "binary"}`,
			wantStatus: 500,
		},
		{name: "wrong method", method: "GET", path: "/execute", wantStatus: 405},
		{name: "no such route", method: "GET", path: "/tasks", wantStatus: 404},
		{name: "output without task id", method: "GET", path: "/output", wantStatus: 400},
		{
			name:   "unhealthy",
			method: "GET", path: "/health",
			wantStatus: 503,
			wantBody:   `{"healthy": false, "message": "loading model"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := wireAgent()
			s := serve(t, agent)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://"+s.http+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			code, body := do(t, req)
			if code != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", code, tt.wantStatus, body)
			}
			if tt.wantBody == "" {
				assertErrorBody(t, body)
			} else if !sameJSON(t, body, []byte(tt.wantBody)) {
				t.Errorf("body = %s, want %s", body, tt.wantBody)
			}
			if tt.wantTask != nil {
				got := agent.tasks()
				if len(got) != 1 || !sameTask(got[0], *tt.wantTask) {
					t.Errorf("handler got %+v, want %+v", got, *tt.wantTask)
				}
			}
		})
	}
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// assertErrorBody checks that body is {"error": "..."} and nothing else.
func assertErrorBody(t *testing.T, body []byte) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("error body %q is not JSON: %v", body, err)
		return
	}
	if msg, ok := e["error"].(string); !ok || msg == "" || len(e) != 1 {
		t.Errorf("error body = %s, want {\"error\": message}", body)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
