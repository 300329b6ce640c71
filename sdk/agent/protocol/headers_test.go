package protocol_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

// headerAgent remembers the headers of the last call it served.
type headerAgent struct {
	mu  sync.Mutex
	got map[string]string
}

func (a *headerAgent) Execute(ctx context.Context, t protocol.Task, _ io.Writer) (protocol.Result, error) {
	a.keep(ctx)
	return protocol.Result{Result: []byte("ok")}, nil
}

func (a *headerAgent) Health(ctx context.Context) protocol.Health {
	a.keep(ctx)
	return protocol.Health{Healthy: true}
}

func (a *headerAgent) keep(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = protocol.HeadersFrom(ctx)
}

func (a *headerAgent) last() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.got
}

func TestHeadersReachTheHandler(t *testing.T) {
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		ctx    func(context.Context) context.Context
		want   map[string]string
		absent []string
	}{
		{
			name: "a traceparent",
			ctx: func(ctx context.Context) context.Context {
				return protocol.WithHeaders(ctx, map[string]string{"traceparent": traceparent})
			},
			want: map[string]string{"traceparent": traceparent},
		},
		{
			name: "keys arrive in lower case",
			ctx: func(ctx context.Context) context.Context {
				return protocol.WithHeaders(ctx, map[string]string{"X-Request-ID": "r1"})
			},
			want: map[string]string{"x-request-id": "r1"},
		},
		{
			name: "later headers add to and replace earlier ones",
			ctx: func(ctx context.Context) context.Context {
				ctx = protocol.WithHeaders(ctx, map[string]string{"a": "1", "b": "1"})
				return protocol.WithHeaders(ctx, map[string]string{"b": "2"})
			},
			want: map[string]string{"a": "1", "b": "2"},
		},
		{
			// Left out, and the call still goes through.
			name: "pairs that can't travel",
			ctx: func(ctx context.Context) context.Context {
				return protocol.WithHeaders(ctx, map[string]string{
					"content-type": "text/evil", "grpc-timeout": "1S", "bad key": "x", "x-bin": "x",
					"newline": "a\nb", "ok": "kept", "parallax-agent-target": "other",
				})
			},
			want:   map[string]string{"ok": "kept"},
			absent: []string{"bad key", "x-bin", "newline", "grpc-timeout"},
		},
	}
	agent := &headerAgent{}
	for _, tr := range clients(t, agent) {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				ctx := tt.ctx(t.Context())
				if _, err := tr.client.Execute(ctx, protocol.Task{Description: "x"}); err != nil {
					t.Fatalf("Execute: %v", err)
				}
				check(t, "Execute", agent.last(), tt.want, tt.absent)
				if _, err := tr.client.Health(ctx); err != nil {
					t.Fatalf("Health: %v", err)
				}
				check(t, "Health", agent.last(), tt.want, tt.absent)
			})
		}
	}
}

func check(t *testing.T, call string, got, want map[string]string, absent []string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: header %q = %q, want %q (all: %v)", call, k, got[k], v, got)
		}
	}
	for _, k := range absent {
		if _, ok := got[k]; ok {
			t.Errorf("%s: header %q arrived", call, k)
		}
	}
	if ct := got["content-type"]; ct == "text/evil" {
		t.Errorf("%s: the caller replaced content-type", call)
	}
}

func TestHeadersFromOutsideACall(t *testing.T) {
	if h := protocol.HeadersFrom(context.Background()); h != nil {
		t.Errorf("HeadersFrom(Background) = %v, want nil", h)
	}
	// What a caller sets is not what it serves.
	ctx := protocol.WithHeaders(context.Background(), map[string]string{"a": "1"})
	if h := protocol.HeadersFrom(ctx); h != nil {
		t.Errorf("HeadersFrom(WithHeaders) = %v, want nil", h)
	}
}
