package protocol_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

// fakeAgent is a Handler whose Execute each test supplies. It records the
// tasks Execute was given.
type fakeAgent struct {
	execute func(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error)
	health  protocol.Health

	mu  sync.Mutex
	got []protocol.Task
}

func (a *fakeAgent) Execute(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error) {
	a.mu.Lock()
	a.got = append(a.got, t)
	a.mu.Unlock()
	return a.execute(ctx, t, out)
}

func (a *fakeAgent) Health(context.Context) protocol.Health { return a.health }

// tasks returns the tasks Execute was given so far.
func (a *fakeAgent) tasks() []protocol.Task {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]protocol.Task(nil), a.got...)
}

// echo answers a task with its own data.
func echo(_ context.Context, t protocol.Task, _ io.Writer) (protocol.Result, error) {
	return protocol.Result{Result: t.Data, Confidence: 0.75, Reasoning: "did " + t.Description}, nil
}

// transport is one way to reach the agent under test.
type transport struct {
	name     string
	endpoint string
	client   protocol.Client
}

// servers are the addresses of one Server on both transports.
type servers struct {
	grpc, http string // host:port
}

// serve serves h from one Server over gRPC and HTTP on 127.0.0.1, until
// the test ends.
func serve(t *testing.T, h protocol.Handler) servers {
	t.Helper()
	srv := protocol.NewServer(h)

	g := grpc.NewServer()
	srv.RegisterGRPC(g)
	lis := listen(t)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = listen(t)
	hs.Start()
	t.Cleanup(hs.Close)

	return servers{grpc: lis.Addr().String(), http: hs.Listener.Addr().String()}
}

// clients serves h and dials it over both transports.
func clients(t *testing.T, h protocol.Handler) []transport {
	t.Helper()
	s := serve(t, h)
	return []transport{
		dial(t, "grpc", "grpc://"+s.grpc),
		dial(t, "http", "http://"+s.http),
	}
}

func dial(t *testing.T, name, endpoint string) transport {
	t.Helper()
	c, err := protocol.Dial(endpoint)
	if err != nil {
		t.Fatalf("Dial(%q): %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return transport{name: name, endpoint: endpoint, client: c}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func sameTask(a, b protocol.Task) bool {
	return a.ID == b.ID && a.Description == b.Description && bytes.Equal(a.Data, b.Data) && a.Timeout == b.Timeout
}

func TestExecuteRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		task protocol.Task
	}{
		{"text data", protocol.Task{ID: "t1", Description: "summarise", Data: []byte("hello <world> & \"all\"\n"), Timeout: 5 * time.Second}},
		{"JSON data", protocol.Task{ID: "t2", Description: "review", Data: []byte(`{"files":["a.go"],"depth":2}`)}},
		{"JSON string as data", protocol.Task{ID: "t3", Description: "quote", Data: []byte(`"quoted"`)}},
		{"number as data", protocol.Task{ID: "t4", Description: "count", Data: []byte(`42`)}},
		{"bare task", protocol.Task{Description: "ping"}},
	}
	agent := &fakeAgent{execute: echo}
	for _, tr := range clients(t, agent) {
		t.Run(tr.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := tr.client.Execute(t.Context(), tt.task)
					if err != nil {
						t.Fatal(err)
					}
					got := agent.tasks()
					if last := got[len(got)-1]; !sameTask(last, tt.task) {
						t.Errorf("handler got %+v, want %+v", last, tt.task)
					}
					want := protocol.Result{TaskID: tt.task.ID, Result: tt.task.Data, Confidence: 0.75, Reasoning: "did " + tt.task.Description}
					if res.TaskID != want.TaskID || !bytes.Equal(res.Result, want.Result) ||
						res.Confidence != want.Confidence || res.Reasoning != want.Reasoning {
						t.Errorf("Execute = %+v, want %+v", res, want)
					}
				})
			}
		})
	}
}

func TestExecuteTimeoutCutsHandlerOff(t *testing.T) {
	// Released when the test ends, so that the handler that ignores its
	// context doesn't outlive it.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name    string
		execute func(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error)
	}{
		{"handler stops when told", func(ctx context.Context, _ protocol.Task, _ io.Writer) (protocol.Result, error) {
			<-ctx.Done()
			return protocol.Result{}, ctx.Err()
		}},
		{"handler ignores its context", func(context.Context, protocol.Task, io.Writer) (protocol.Result, error) {
			<-release
			return protocol.Result{Reasoning: "too late"}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tr := range clients(t, &fakeAgent{execute: tt.execute}) {
				t.Run(tr.name, func(t *testing.T) {
					_, err := tr.client.Execute(t.Context(), protocol.Task{ID: "slow", Description: "wait", Timeout: 100 * time.Millisecond})
					if !errors.Is(err, protocol.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
					}
					if !strings.Contains(err.Error(), "100ms") {
						t.Errorf("error %q doesn't say the timeout", err)
					}
				})
			}
		})
	}
}

func TestExecuteErrors(t *testing.T) {
	tests := []struct {
		name       string
		task       protocol.Task
		handlerErr error
		wantKind   error // nil for a failed task
		wantText   string
	}{
		{
			name:     "empty description",
			task:     protocol.Task{ID: "t1"},
			wantKind: protocol.ErrInvalid,
			wantText: "invalid task: description is empty",
		},
		{
			name:     "negative timeout",
			task:     protocol.Task{ID: "t1", Description: "x", Timeout: -time.Second},
			wantKind: protocol.ErrInvalid,
			wantText: "invalid task: timeout -1s is negative",
		},
		{
			name:       "handler fails",
			task:       protocol.Task{ID: "t1", Description: "x"},
			handlerErr: errors.New("compiler exploded"),
			wantText:   "compiler exploded",
		},
		{
			name:       "handler refuses the task",
			task:       protocol.Task{ID: "t1", Description: "x"},
			handlerErr: fmt.Errorf("%w: data is not a diff", protocol.ErrInvalid),
			wantKind:   protocol.ErrInvalid,
			wantText:   "invalid task: data is not a diff",
		},
		{
			name:       "handler is busy",
			task:       protocol.Task{ID: "t1", Description: "x"},
			handlerErr: fmt.Errorf("%w: busy with t0", protocol.ErrUnavailable),
			wantKind:   protocol.ErrUnavailable,
			wantText:   "agent unavailable: busy with t0",
		},
	}
	kinds := []error{protocol.ErrInvalid, protocol.ErrTimeout, protocol.ErrUnavailable, context.Canceled}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := &fakeAgent{execute: func(context.Context, protocol.Task, io.Writer) (protocol.Result, error) {
				return protocol.Result{}, tt.handlerErr
			}}
			for _, tr := range clients(t, agent) {
				t.Run(tr.name, func(t *testing.T) {
					_, err := tr.client.Execute(t.Context(), tt.task)
					if err == nil {
						t.Fatal("no error")
					}
					if !strings.Contains(err.Error(), tt.wantText) {
						t.Errorf("error %q doesn't contain %q", err, tt.wantText)
					}
					for _, kind := range kinds {
						if got, want := errors.Is(err, kind), kind == tt.wantKind; got != want {
							t.Errorf("errors.Is(%v, %v) = %v, want %v", err, kind, got, want)
						}
					}
				})
			}
			if tt.handlerErr == nil && len(agent.tasks()) > 0 {
				t.Errorf("handler ran an invalid task")
			}
		})
	}
}

func TestExecuteRefusesTaskIDAlreadyRunning(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	agent := &fakeAgent{execute: func(_ context.Context, task protocol.Task, _ io.Writer) (protocol.Result, error) {
		if task.Description == "first" {
			started <- struct{}{}
			<-release
		}
		return protocol.Result{}, nil
	}}
	for _, tr := range clients(t, agent) {
		t.Run(tr.name, func(t *testing.T) {
			first := make(chan error, 1)
			go func() {
				_, err := tr.client.Execute(t.Context(), protocol.Task{ID: "dup", Description: "first"})
				first <- err
			}()
			<-started
			_, err := tr.client.Execute(t.Context(), protocol.Task{ID: "dup", Description: "second"})
			if !errors.Is(err, protocol.ErrInvalid) || !strings.Contains(err.Error(), "already running") {
				t.Errorf("second Execute: err = %v, want ErrInvalid saying already running", err)
			}
			release <- struct{}{}
			if err := <-first; err != nil {
				t.Errorf("first Execute: %v", err)
			}
		})
	}
}

func TestHealthRoundTrips(t *testing.T) {
	tests := []protocol.Health{
		{Healthy: true, Message: "ready"},
		{Healthy: false, Message: "model not loaded"},
	}
	for _, want := range tests {
		t.Run(want.Message, func(t *testing.T) {
			for _, tr := range clients(t, &fakeAgent{health: want}) {
				t.Run(tr.name, func(t *testing.T) {
					got, err := tr.client.Health(t.Context())
					if err != nil || got != want {
						t.Errorf("Health = %+v, %v; want %+v", got, err, want)
					}
				})
			}
		})
	}
}

func TestStreamOutputDeliversWhatExecuteWrites(t *testing.T) {
	// The handler waits, after its first write, until the follower saw
	// it. So the follower can't miss the task, wherever it joins. One
	// task id per transport, each with its own signal.
	firstSeen := map[string]chan struct{}{
		"build-grpc": make(chan struct{}),
		"build-http": make(chan struct{}),
	}
	agent := &fakeAgent{execute: func(ctx context.Context, task protocol.Task, out io.Writer) (protocol.Result, error) {
		fmt.Fprint(out, "compiling\n")
		select {
		case <-firstSeen[task.ID]:
		case <-ctx.Done():
			return protocol.Result{}, ctx.Err()
		}
		fmt.Fprint(out, "testing\n")
		fmt.Fprint(out, "done\n")
		return protocol.Result{}, nil
	}}
	for _, tr := range clients(t, agent) {
		t.Run(tr.name, func(t *testing.T) {
			id := "build-" + tr.name
			var got bytes.Buffer
			streamed := make(chan error, 1)
			go func() {
				streamed <- tr.client.StreamOutput(t.Context(), id, func(chunk []byte) {
					first := got.Len() == 0
					got.Write(chunk)
					if first {
						close(firstSeen[id])
					}
				})
			}()

			task := protocol.Task{ID: id, Description: "build it", Timeout: 10 * time.Second}
			if _, err := tr.client.Execute(t.Context(), task); err != nil {
				t.Fatal(err)
			}
			if err := <-streamed; err != nil {
				t.Fatalf("StreamOutput: %v", err)
			}
			if want := "compiling\ntesting\ndone\n"; got.String() != want {
				t.Errorf("streamed %q, want %q", got.String(), want)
			}
		})
	}
}

func TestStreamOutputEndsWithCaller(t *testing.T) {
	for _, tr := range clients(t, &fakeAgent{execute: echo}) {
		t.Run(tr.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- tr.client.StreamOutput(ctx, "never-started", func([]byte) {})
			}()
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestUnreachableAgentIsUnavailable(t *testing.T) {
	// A port nothing listens on any more.
	lis := listen(t)
	addr := lis.Addr().String()
	lis.Close()

	for _, endpoint := range []string{"grpc://" + addr, "http://" + addr} {
		t.Run(endpoint, func(t *testing.T) {
			c := dial(t, endpoint, endpoint).client
			calls := map[string]func() error{
				"Execute": func() error {
					_, err := c.Execute(t.Context(), protocol.Task{Description: "x"})
					return err
				},
				"Health": func() error { _, err := c.Health(t.Context()); return err },
				"StreamOutput": func() error {
					return c.StreamOutput(t.Context(), "t1", func([]byte) {})
				},
			}
			for name, call := range calls {
				err := call()
				if !errors.Is(err, protocol.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) {
					t.Errorf("%s: err = %v, want ErrUnavailable naming %s", name, err, endpoint)
				}
			}
		})
	}
}

func TestDialRejectsBadEndpoints(t *testing.T) {
	for _, endpoint := range []string{
		"",
		"127.0.0.1:9000",
		"ftp://127.0.0.1:9000",
		"grpc://127.0.0.1",
		"grpc://:9000",
		"grpc://127.0.0.1:9000/agent/nested",
		"http://",
		"://nope",
	} {
		t.Run(endpoint, func(t *testing.T) {
			if c, err := protocol.Dial(endpoint); err == nil {
				c.Close()
				t.Errorf("Dial(%q) succeeded", endpoint)
			}
		})
	}
}

func TestHTTPUnderPathPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/agents/a1/", http.StripPrefix("/agents/a1", protocol.HTTPHandler(&fakeAgent{execute: echo, health: protocol.Health{Healthy: true}})))
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener = listen(t)
	hs.Start()
	t.Cleanup(hs.Close)

	c := dial(t, "http", hs.URL+"/agents/a1/").client
	if h, err := c.Health(t.Context()); err != nil || !h.Healthy {
		t.Errorf("Health = %+v, %v", h, err)
	}
	res, err := c.Execute(t.Context(), protocol.Task{ID: "p", Description: "x", Data: []byte("hi")})
	if err != nil || string(res.Result) != "hi" {
		t.Errorf("Execute = %+v, %v", res, err)
	}
}

// A grpc://host:port/name endpoint names one of the agents a server
// hosts; the handler reads it with Target.
func TestTargetRoutesGRPCCalls(t *testing.T) {
	agent := &fakeAgent{execute: func(ctx context.Context, t protocol.Task, _ io.Writer) (protocol.Result, error) {
		return protocol.Result{Result: []byte("for:" + protocol.Target(ctx))}, nil
	}}
	s := serve(t, agent)
	for endpoint, want := range map[string]string{
		"grpc://" + s.grpc + "/alpha": "for:alpha",
		"grpc://" + s.grpc:            "for:",
	} {
		c := dial(t, "grpc", endpoint).client
		res, err := c.Execute(context.Background(), protocol.Task{Description: "which"})
		if err != nil || string(res.Result) != want {
			t.Errorf("%s: %q, %v; want %q", endpoint, res.Result, err, want)
		}
	}
	if _, err := protocol.Dial("grpc://" + s.grpc + "/a/b"); err == nil {
		t.Error("Dial accepted a nested path")
	}
	if got := protocol.Target(protocol.WithTarget(context.Background(), "beta")); got != "beta" {
		t.Errorf("Target(WithTarget(beta)) = %q", got)
	}
}
