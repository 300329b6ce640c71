package patterns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/sdk/agent/protocol"
)

// tracedAgent answers on the real protocol and keeps the traceparent
// each task arrived with, by agent id.
type tracedAgent struct {
	id         string
	confidence float64
	fail       bool
	seen       *traceparents
}

type traceparents struct {
	mu   sync.Mutex
	byID map[string]string
}

func (s *traceparents) get(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

func (a tracedAgent) Execute(ctx context.Context, _ protocol.Task, _ io.Writer) (protocol.Result, error) {
	a.seen.mu.Lock()
	a.seen.byID[a.id] = protocol.HeadersFrom(ctx)["traceparent"]
	a.seen.mu.Unlock()
	if a.fail {
		return protocol.Result{}, errors.New("out of ideas")
	}
	return protocol.Result{Result: []byte("approve"), Confidence: a.confidence}, nil
}

func (tracedAgent) Health(context.Context) protocol.Health { return protocol.Health{Healthy: true} }

// serveGRPCAgent is serveAgent over gRPC, so both transports carry the
// trace.
func serveGRPCAgent(t *testing.T, cat *catalog.Catalog, id string, caps []string, h protocol.Handler) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	protocol.RegisterGRPC(g, h)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	if err := cat.Put(catalog.Agent{ID: id, Endpoint: "grpc://" + lis.Addr().String(), Capabilities: caps, Metadata: map[string]string{"expertise": "0.9"}, Source: catalog.SourceAPI}); err != nil {
		t.Fatal(err)
	}
}

// spanTree is what a test recorded, looked up by name.
type spanTree []sdktrace.ReadOnlySpan

func (s spanTree) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// root checks that there is one pattern-execution span and every other
// span is its child, in its trace, and returns it.
func (s spanTree) root(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	roots := s.named(spanExecution)
	if len(roots) != 1 {
		t.Fatalf("%d %s spans, want 1; got %v", len(roots), spanExecution, s.names())
	}
	root := roots[0]
	if root.Parent().IsValid() {
		t.Errorf("%s has a parent", spanExecution)
	}
	for _, sp := range s {
		if sp == root {
			continue
		}
		if sp.Parent().SpanID() != root.SpanContext().SpanID() || sp.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%s is not a child of %s", sp.Name(), spanExecution)
		}
	}
	return root
}

func (s spanTree) names() []string {
	var out []string
	for _, sp := range s {
		out = append(out, sp.Name())
	}
	sort.Strings(out)
	return out
}

func TestCapabilityPatternSpans(t *testing.T) {
	patterns := loadPatterns(t, `pattern "review" {
  agents {
    capabilities = ["code_review"]
    count        = 3
  }
  strategy = "consensus"
  task     = "Review ${input.files}"
}
pattern "too-many" {
  agents {
    capabilities = ["code_review"]
    count        = 9
  }
  task = "x"
}
pattern "write" {
  agents {
    capabilities = ["writing"]
    count        = 2
  }
  strategy = "sequential"
  task     = "Write ${input.files}"
}`)
	seen := &traceparents{byID: map[string]string{}}
	cat := catalog.New(nil)
	serveAgent(t, cat, "r-http-1", []string{"code_review"}, "0.9", tracedAgent{id: "r-http-1", confidence: 0.6, seen: seen})
	serveAgent(t, cat, "r-http-2", []string{"code_review"}, "0.8", tracedAgent{id: "r-http-2", confidence: 0.7, seen: seen})
	serveGRPCAgent(t, cat, "r-grpc", []string{"code_review"}, tracedAgent{id: "r-grpc", confidence: 0.9, seen: seen})
	serveAgent(t, cat, "w-ok", []string{"writing"}, "0.9", tracedAgent{id: "w-ok", confidence: 0.5, seen: seen})
	serveAgent(t, cat, "w-fails", []string{"writing"}, "0.8", tracedAgent{id: "w-fails", fail: true, seen: seen})

	tests := []struct {
		pattern    string
		status     string
		selected   int
		tasks      []string // agent ids given a task
		failedTask string   // "" for none
	}{
		{"review", StatusCompleted, 3, []string{"r-grpc", "r-http-1", "r-http-2"}, ""},
		{"too-many", StatusFailed, 3, nil, ""},
		{"write", StatusFailed, 2, []string{"w-fails", "w-ok"}, "w-fails"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			e := New(hclog.NewNullLogger(), patterns, cat, nil, nil, WithTracerProvider(tp))
			id, err := e.Execute(tt.pattern, map[string]string{"files": "auth.ts"})
			if err != nil {
				t.Fatal(err)
			}
			x := waitDone(t, e, id)
			e.Shutdown() // the root span ends after the execution does
			spans := spanTree(sr.Ended())

			root := spans.root(t)
			ra := attrs(root)
			if ra["pattern.name"].AsString() != tt.pattern || ra["execution.id"].AsString() != id || ra["status"].AsString() != tt.status ||
				ra["pattern.kind"].AsString() != "capability" || x.Status != tt.status {
				t.Errorf("%s attributes %v; execution %+v", spanExecution, ra, x)
			}
			if failed := root.Status().Code == codes.Error; failed != (tt.status == StatusFailed) || failed && root.Status().Description != x.Error {
				t.Errorf("%s status %+v, execution error %q", spanExecution, root.Status(), x.Error)
			}

			sel := spans.named(spanSelect)
			if len(sel) != 1 {
				t.Fatalf("%d %s spans", len(sel), spanSelect)
			}
			sa := attrs(sel[0])
			caps := patterns[tt.pattern].Agents.Capabilities
			if sa["agent.count"].AsInt64() != int64(tt.selected) || !slices.Equal(sa["capabilities"].AsStringSlice(), caps) {
				t.Errorf("%s attributes %v", spanSelect, sa)
			}
			if tooFew := tt.tasks == nil; (sel[0].Status().Code == codes.Error) != tooFew {
				t.Errorf("%s status %+v", spanSelect, sel[0].Status())
			}

			var ids []string
			for _, sp := range spans.named(spanTask) {
				a := attrs(sp)
				agent := a["agent.id"].AsString()
				ids = append(ids, agent)
				if _, ok := a["duration_ms"]; !ok || a["duration_ms"].AsInt64() < 0 {
					t.Errorf("%s %s: duration_ms %v", spanTask, agent, a["duration_ms"])
				}
				var want float64
				for _, r := range x.Agents {
					if r.AgentID == agent {
						want = r.Confidence
					}
				}
				if a["confidence"].AsFloat64() != want {
					t.Errorf("%s %s: confidence %v, want %v", spanTask, agent, a["confidence"], want)
				}
				if failed := sp.Status().Code == codes.Error; failed != (agent == tt.failedTask) {
					t.Errorf("%s %s: status %+v", spanTask, agent, sp.Status())
				}
				// The agent continues this very span's trace.
				wantTP := fmt.Sprintf("00-%s-%s-01", sp.SpanContext().TraceID(), sp.SpanContext().SpanID())
				if got := seen.get(agent); got != wantTP {
					t.Errorf("%s reached the agent with traceparent %q, want %q", agent, got, wantTP)
				}
			}
			sort.Strings(ids)
			if !slices.Equal(ids, tt.tasks) {
				t.Errorf("%s spans for %v, want %v", spanTask, ids, tt.tasks)
			}
			if n := len(spans) - 3 - len(tt.tasks); n != 0 || len(spans.named(spanCleanup)) != 1 {
				t.Errorf("spans %v, want one %s, one %s, the tasks and one %s", spans.names(), spanExecution, spanSelect, spanCleanup)
			}
		})
	}
}

func TestOrgChartSpans(t *testing.T) {
	patterns := loadPatterns(t, `pattern "team" {
  structure {
    role "engineer" {
      agent_type = "claude"
      managed    = true
      count      = 2
    }
    role "reviewer" {
      capabilities = ["code_review"]
    }
  }
  workflow {
    step "build" {
      role = "engineer"
      task = "Build ${input.feature}"
    }
    step "review" {
      role = "reviewer"
      task = "Review: ${steps.build.result}"
    }
  }
}`)
	seen := &traceparents{byID: map[string]string{}}
	cat := catalog.New(nil)
	serveAgent(t, cat, "rev", []string{"code_review"}, "0.9", tracedAgent{id: "rev", confidence: 0.9, seen: seen})
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	managed := newFakeManager(0)
	e := New(hclog.NewNullLogger(), patterns, cat, managed, nil, WithTracerProvider(tp))
	id, err := e.Execute("team", map[string]string{"feature": "login"})
	if err != nil {
		t.Fatal(err)
	}
	if x := waitDone(t, e, id); x.Status != StatusCompleted {
		t.Fatalf("execution %+v", x)
	}
	e.Shutdown()
	spans := spanTree(sr.Ended())

	root := spans.root(t)
	if a := attrs(root); a["pattern.kind"].AsString() != "org-chart" || a["status"].AsString() != StatusCompleted {
		t.Errorf("%s attributes %v", spanExecution, a)
	}
	spawns := spans.named(spanSpawn)
	if len(spawns) != 2 {
		t.Fatalf("%d %s spans, want 2: %v", len(spawns), spanSpawn, spans.names())
	}
	for i, sp := range spawns {
		a := attrs(sp)
		if a["agent.type"].AsString() != "claude" || a["runtime"].AsString() != "fake" || a["agent.id"].AsString() != fmt.Sprintf("m%d", i+1) || a["role"].AsString() != "engineer" {
			t.Errorf("%s attributes %v", spanSpawn, a)
		}
	}
	sel := spans.named(spanSelect)
	if len(sel) != 1 || attrs(sel[0])["role"].AsString() != "reviewer" || attrs(sel[0])["agent.count"].AsInt64() != 1 {
		t.Errorf("%s spans %d, attributes %v", spanSelect, len(sel), attrs(sel[0]))
	}
	byAgent := map[string]string{}
	for _, sp := range spans.named(spanTask) {
		a := attrs(sp)
		byAgent[a["agent.id"].AsString()] = a["step"].AsString()
		if a["confidence"].AsFloat64() == 0 {
			t.Errorf("%s %v: no confidence", spanTask, a)
		}
	}
	if want := map[string]string{"m1": "build", "m2": "build", "rev": "review"}; fmt.Sprint(byAgent) != fmt.Sprint(want) {
		t.Errorf("%s spans by agent and step %v, want %v", spanTask, byAgent, want)
	}
	if !strings.HasPrefix(seen.get("rev"), "00-"+root.SpanContext().TraceID().String()+"-") {
		t.Errorf("the registered reviewer got traceparent %q, outside trace %s", seen.get("rev"), root.SpanContext().TraceID())
	}
	cleanup := spans.named(spanCleanup)
	if len(cleanup) != 1 || attrs(cleanup[0])["agent.count"].AsInt64() != 2 || cleanup[0].Status().Code == codes.Error {
		t.Errorf("%s spans %v", spanCleanup, spans.names())
	}
	if cleanup[0].EndTime().After(root.EndTime()) {
		t.Errorf("%s ended after %s", spanCleanup, spanExecution)
	}
	if len(managed.stops) != 2 || len(managed.live) != 0 {
		t.Errorf("stops %v, live %v; want both spawned agents stopped", managed.stops, managed.live)
	}
}

// Without a tracer provider nothing is traced and no traceparent is sent.
func TestUntracedEngineSendsNoTraceparent(t *testing.T) {
	patterns := loadPatterns(t, `pattern "review" {
  agents {
    capabilities = ["code_review"]
  }
  task = "Review"
}`)
	seen := &traceparents{byID: map[string]string{}}
	cat := catalog.New(nil)
	serveAgent(t, cat, "r", []string{"code_review"}, "0.9", tracedAgent{id: "r", confidence: 0.5, seen: seen})
	e := New(hclog.NewNullLogger(), patterns, cat, nil, nil)
	defer e.Shutdown()
	id, _ := e.Execute("review", nil)
	if x := waitDone(t, e, id); x.Status != StatusCompleted {
		t.Fatalf("execution %+v", x)
	}
	if got := seen.get("r"); got != "" {
		t.Errorf("traceparent %q without tracing", got)
	}
}
