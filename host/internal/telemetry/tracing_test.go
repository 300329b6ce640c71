package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/parallax/parallax/host/internal/config"
)

// collector keeps the exports it receives over either protocol.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu      sync.Mutex
	reqs    []*collectortrace.ExportTraceServiceRequest
	headers []string // the x-token of each export
}

func (c *collector) keep(req *collectortrace.ExportTraceServiceRequest, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, req)
	c.headers = append(c.headers, token)
}

func (c *collector) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.keep(req, append(md.Get("x-token"), "")[0])
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "want an OTLP export at /v1/traces", http.StatusBadRequest)
		return
	}
	c.keep(&req, r.Header.Get("X-Token"))
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func TestTracerProviderExports(t *testing.T) {
	c := &collector{}
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(g, c)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	httpAddr := hs.Listener.Addr().String()

	tests := []struct {
		name string
		cfg  config.Tracing
	}{
		{"http host:port", config.Tracing{Protocol: "http/protobuf", Endpoint: httpAddr, Insecure: true}},
		{"http URL without a path", config.Tracing{Protocol: "http/protobuf", Endpoint: "http://" + httpAddr}},
		{"http URL with the path", config.Tracing{Protocol: "http/protobuf", Endpoint: "http://" + httpAddr + "/v1/traces"}},
		{"grpc host:port", config.Tracing{Protocol: "grpc", Endpoint: lis.Addr().String(), Insecure: true}},
		{"grpc URL", config.Tracing{Protocol: "grpc", Endpoint: "http://" + lis.Addr().String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.mu.Lock()
			c.reqs, c.headers = nil, nil
			c.mu.Unlock()
			tt.cfg.SampleRatio = 1
			tt.cfg.Headers = config.SecretHeaders{"x-token": "t0ken"}
			tp, err := NewTracerProvider(t.Context(), &tt.cfg, "v1.2.3", "h1")
			if err != nil {
				t.Fatal(err)
			}
			_, span := tp.Tracer("test").Start(t.Context(), "pattern-execution")
			span.End()
			if err := tp.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.reqs) != 1 || c.headers[0] != "t0ken" {
				t.Fatalf("%d exports, headers %q", len(c.reqs), c.headers)
			}
			rs := c.reqs[0].GetResourceSpans()[0]
			res := map[string]string{}
			for _, kv := range rs.GetResource().GetAttributes() {
				res[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			if res["service.name"] != ServiceName || res["service.version"] != "v1.2.3" || res["service.instance.id"] != "h1" {
				t.Errorf("resource %v", res)
			}
			if name := rs.GetScopeSpans()[0].GetSpans()[0].GetName(); name != "pattern-execution" {
				t.Errorf("span %q", name)
			}
		})
	}
}

// sample_ratio 0 traces nothing: no export at all.
func TestTracerProviderSamples(t *testing.T) {
	c := &collector{}
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	tp, err := NewTracerProvider(t.Context(), &config.Tracing{Protocol: "http/protobuf", Endpoint: hs.URL, SampleRatio: 0}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "pattern-execution")
	span.End()
	_ = tp.Shutdown(t.Context())
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) != 0 {
		t.Errorf("%d exports at sample_ratio 0", len(c.reqs))
	}
}
