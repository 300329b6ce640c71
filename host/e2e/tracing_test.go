package e2e

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

// otlpReceiver is an OTLP/HTTP collector on 127.0.0.1 that keeps what it
// is sent.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string // service.name of each batch
	auth    []string // the authorization header of each request
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces of application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	var msg collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	for _, rs := range msg.GetResourceSpans() {
		r.service = append(r.service, attr(rs.GetResource().GetAttributes(), "service.name").GetStringValue())
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// traceparentAgent reviews and keeps the traceparent it was called with.
type traceparentAgent struct {
	mu  sync.Mutex
	got string
}

func (a *traceparentAgent) Execute(ctx context.Context, _ protocol.Task, _ io.Writer) (protocol.Result, error) {
	a.mu.Lock()
	a.got = protocol.HeadersFrom(ctx)["traceparent"]
	a.mu.Unlock()
	return protocol.Result{Result: []byte("approve"), Confidence: 0.8}, nil
}

func (*traceparentAgent) Health(context.Context) protocol.Health {
	return protocol.Health{Healthy: true}
}

// With a telemetry { tracing {} } block the host exports a pattern
// execution's spans over OTLP/HTTP, the last of them when it shuts down,
// and the agent it calls continues the same trace.
func TestTracingExportsPatternExecutionOverOTLP(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	const token = "Bearer e2e-otlp-t0ken"

	agent := &traceparentAgent{}
	srv := httptest.NewServer(protocol.HTTPHandler(agent))
	t.Cleanup(srv.Close)

	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`telemetry {
  tracing {
    exporter = "otlp"
    protocol = "http/protobuf"
    endpoint = %q
    headers  = { authorization = env("PARALLAX_E2E_OTLP_TOKEN") }
  }
}
pattern "code-review" {
  agents {
    capabilities = ["code_review"]
    count        = 1
  }
  strategy = "best"
  task     = "Review ${input.files}"
}`, collector.URL)), "PARALLAX_E2E_OTLP_TOKEN="+token)

	if code := h.do("POST", "/api/agents", map[string]any{"id": "reviewer", "endpoint": srv.URL, "capabilities": []string{"code_review"}}, nil); code != 201 {
		t.Fatalf("register: %d", code)
	}
	var x struct{ ID, Status string }
	h.runPattern("code-review", map[string]string{"files": "auth.ts"}, &x)
	if x.Status != "completed" {
		t.Fatalf("execution %s", x.Status)
	}
	h.stop() // flushes the batch

	recv.mu.Lock()
	defer recv.mu.Unlock()
	byName := map[string][]*tracepb.Span{}
	for _, sp := range recv.spans {
		byName[sp.GetName()] = append(byName[sp.GetName()], sp)
	}
	roots, tasks := byName["pattern-execution"], byName["execute-task"]
	if len(roots) != 1 || len(tasks) != 1 || len(byName["select-agents"]) != 1 {
		t.Fatalf("spans received: %d pattern-execution, %d select-agents, %d execute-task; log:\n%s", len(roots), len(byName["select-agents"]), len(tasks), h.logs())
	}
	root, task := roots[0], tasks[0]
	if got := attr(root.GetAttributes(), "execution.id").GetStringValue(); got != x.ID {
		t.Errorf("pattern-execution execution.id %q, want %q", got, x.ID)
	}
	if got := attr(root.GetAttributes(), "pattern.name").GetStringValue(); got != "code-review" {
		t.Errorf("pattern-execution pattern.name %q", got)
	}
	if string(task.GetParentSpanId()) != string(root.GetSpanId()) {
		t.Error("execute-task is not a child of pattern-execution")
	}
	if got := attr(task.GetAttributes(), "agent.id").GetStringValue(); got != "reviewer" {
		t.Errorf("execute-task agent.id %q", got)
	}
	for _, s := range recv.service {
		if s != "parallax-host" {
			t.Errorf("service.name %q", s)
		}
	}
	for _, a := range recv.auth {
		if a != token {
			t.Errorf("the exporter sent authorization %q, want the configured header", a)
		}
	}
	agent.mu.Lock()
	got := agent.got
	agent.mu.Unlock()
	if want := "00-" + hex.EncodeToString(task.GetTraceId()) + "-" + hex.EncodeToString(task.GetSpanId()) + "-01"; got != want {
		t.Errorf("the agent got traceparent %q, want %q", got, want)
	}
	if strings.Contains(h.logs(), "e2e-otlp-t0ken") {
		t.Error("the host logged the exporter's authorization header")
	}
}
