package registry_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/agent/registry"
	"github.com/parallax/parallax/sdk/agent/registry/registrytest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// waitFor bounds every wait for something etcd does in the background. It
// is generous on purpose: the tests wait for conditions, never for a time.
const waitFor = 30 * time.Second

func testEntry(id string) registry.Entry {
	return registry.Entry{
		ID:           id,
		Name:         "Agent " + id,
		Endpoint:     "grpc://127.0.0.1:9090",
		Capabilities: []string{"code", "review"},
		Metadata:     map[string]string{registry.MetaType: "coder", registry.MetaExpertise: "0.8"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *registry.Entry)
		// wantErr lists substrings of the error; none means valid.
		wantErr []string
	}{
		{name: "grpc endpoint", change: func(e *registry.Entry) {}},
		{name: "http endpoint", change: func(e *registry.Entry) { e.Endpoint = "http://localhost:8080/agent" }},
		{name: "https without port", change: func(e *registry.Entry) { e.Endpoint = "https://agents.example" }},
		{name: "no name, capabilities or metadata", change: func(e *registry.Entry) {
			e.Name, e.Capabilities, e.Metadata = "", nil, nil
		}},
		{name: "missing id", change: func(e *registry.Entry) { e.ID = "" }, wantErr: []string{"id is empty"}},
		{name: "id with slash", change: func(e *registry.Entry) { e.ID = "team/a" }, wantErr: []string{`id "team/a" contains "/"`}},
		{name: "missing endpoint", change: func(e *registry.Entry) { e.Endpoint = "" }, wantErr: []string{"endpoint is empty"}},
		{name: "bad URL", change: func(e *registry.Entry) { e.Endpoint = "http://[::1" }, wantErr: []string{"is not a URL"}},
		{name: "no scheme", change: func(e *registry.Entry) { e.Endpoint = "localhost/agent" }, wantErr: []string{"has no scheme"}},
		{name: "unsupported scheme", change: func(e *registry.Entry) { e.Endpoint = "ftp://localhost:21" }, wantErr: []string{`scheme "ftp"`, "use http, https or grpc"}},
		{name: "no host", change: func(e *registry.Entry) { e.Endpoint = "http:///agent" }, wantErr: []string{"has no host"}},
		{name: "grpc without port", change: func(e *registry.Entry) { e.Endpoint = "grpc://localhost" }, wantErr: []string{"has no port"}},
		{name: "empty capability", change: func(e *registry.Entry) { e.Capabilities = []string{"code", " "} }, wantErr: []string{"capabilities[1] is empty"}},
		{name: "expertise above 1", change: func(e *registry.Entry) { e.Metadata[registry.MetaExpertise] = "1.5" }, wantErr: []string{`metadata["expertise"] is "1.5"`}},
		{name: "expertise not a number", change: func(e *registry.Entry) { e.Metadata[registry.MetaExpertise] = "high" }, wantErr: []string{`metadata["expertise"]`}},
		{name: "all problems at once", change: func(e *registry.Entry) { e.ID, e.Endpoint = "", "" }, wantErr: []string{"id is empty", "endpoint is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEntry("a")
			tt.change(&e)
			err := e.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		prefix, id, want string
	}{
		{prefix: "", id: "a", want: "/parallax/agents/a"},
		{prefix: registry.DefaultPrefix, id: "a", want: "/parallax/agents/a"},
		{prefix: "/team", id: "a", want: "/team/a"},
		{prefix: "/team/", id: "a", want: "/team/a"},
	}
	for _, tt := range tests {
		if got := registry.Key(tt.prefix, tt.id); got != tt.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tt.prefix, tt.id, got, tt.want)
		}
	}
}

// logRecorder captures what Watch logs.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) log(msg string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprint(append([]any{msg}, args...)...))
}

func (r *logRecorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// watch starts a watcher that ends with the test.
func watch(t *testing.T, cli *clientv3.Client, prefix string) (<-chan registry.Event, *logRecorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rec := &logRecorder{}
	return registry.Watch(ctx, cli, prefix, rec.log), rec
}

func nextEvent(t *testing.T, events <-chan registry.Event) registry.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("event channel closed, want an event")
		}
		return ev
	case <-time.After(waitFor):
		t.Fatalf("no event within %v", waitFor)
	}
	return registry.Event{}
}

func wantEvent(t *testing.T, events <-chan registry.Event, typ registry.EventType, e registry.Entry) {
	t.Helper()
	got := nextEvent(t, events)
	want := registry.Event{Type: typ, ID: e.ID, Entry: e}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("event = %+v, want %+v", got, want)
	}
}

func register(t *testing.T, cli *clientv3.Client, prefix string, e registry.Entry, ttl time.Duration) *registry.Registration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	reg, err := registry.Register(ctx, cli, prefix, e, ttl)
	if err != nil {
		t.Fatalf("Register(%q): %v", e.ID, err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	return reg
}

func leaseOf(t *testing.T, cli *clientv3.Client, key string) (lease clientv3.LeaseID, found bool) {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, false
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease), true
}

func waitDone(t *testing.T, reg *registry.Registration) {
	t.Helper()
	select {
	case <-reg.Done():
	case <-time.After(waitFor):
		t.Fatalf("registration not done within %v", waitFor)
	}
}

func TestRegistry(t *testing.T) {
	cli := registrytest.Start(t)

	// Each subtest uses its own prefix, so they share one etcd.
	t.Run("watcher sees a registration", func(t *testing.T) {
		const prefix = "/register/"
		events, _ := watch(t, cli, prefix)
		e := testEntry("a")
		register(t, cli, prefix, e, 10*time.Second)
		wantEvent(t, events, registry.EventPut, e)
	})

	t.Run("host restart rebuilds the catalogue", func(t *testing.T) {
		const prefix = "/restart/"
		want := map[string]registry.Entry{}
		for _, id := range []string{"a", "b", "c"} {
			want[id] = testEntry(id)
			register(t, cli, prefix, want[id], 10*time.Second)
		}
		// Started after the registrations, as a restarted host is.
		events, _ := watch(t, cli, prefix)
		got := map[string]registry.Entry{}
		for range want {
			ev := nextEvent(t, events)
			if ev.Type != registry.EventPut {
				t.Fatalf("event = %+v, want a put", ev)
			}
			got[ev.ID] = ev.Entry
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("catalogue = %+v, want %+v", got, want)
		}
	})

	t.Run("close deregisters at once", func(t *testing.T) {
		const prefix = "/close/"
		events, _ := watch(t, cli, prefix)
		e := testEntry("a")
		reg := register(t, cli, prefix, e, time.Hour)
		wantEvent(t, events, registry.EventPut, e)

		if err := reg.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// With a TTL of an hour, only the revoke can have removed it.
		if _, found := leaseOf(t, cli, registry.Key(prefix, e.ID)); found {
			t.Fatal("key still present right after Close")
		}
		wantEvent(t, events, registry.EventDelete, e)
		waitDone(t, reg)
		if err := reg.Err(); !errors.Is(err, registry.ErrClosed) {
			t.Fatalf("Err() = %v, want ErrClosed", err)
		}
	})

	t.Run("crashed agent drops out when its lease expires", func(t *testing.T) {
		const prefix = "/crash/"
		events, _ := watch(t, cli, prefix)
		// The agent has a client of its own; closing it stops the
		// keep-alive without revoking, as a killed process does.
		agentCli := registrytest.NewClient(t, cli.Endpoints())
		e := testEntry("a")
		reg := register(t, agentCli, prefix, e, time.Second)
		wantEvent(t, events, registry.EventPut, e)

		if err := agentCli.Close(); err != nil {
			t.Fatalf("close agent's client: %v", err)
		}
		wantEvent(t, events, registry.EventDelete, e)
		waitDone(t, reg)
		if err := reg.Err(); err == nil || errors.Is(err, registry.ErrClosed) {
			t.Fatalf("Err() = %v, want the client's closing", err)
		}
	})

	t.Run("lost lease is registered again", func(t *testing.T) {
		const prefix = "/lost/"
		events, _ := watch(t, cli, prefix)
		e := testEntry("a")
		register(t, cli, prefix, e, 10*time.Second)
		wantEvent(t, events, registry.EventPut, e)

		key := registry.Key(prefix, e.ID)
		old, _ := leaseOf(t, cli, key)
		// Revoking from outside is what expiry does while etcd is
		// unreachable, without the wait.
		if _, err := cli.Revoke(context.Background(), old); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wantEvent(t, events, registry.EventDelete, e)
		wantEvent(t, events, registry.EventPut, e)
		if lease, found := leaseOf(t, cli, key); !found || lease == old {
			t.Fatalf("after re-registration: lease %x, found %v; want a new lease (old %x)", lease, found, old)
		}
	})

	t.Run("invalid entry is not registered", func(t *testing.T) {
		const prefix = "/invalid/"
		e := testEntry("a")
		e.Endpoint = "ftp://localhost:21"
		if _, err := registry.Register(context.Background(), cli, prefix, e, time.Second); err == nil {
			t.Fatal("Register accepted an ftp endpoint")
		}
		resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if resp.Count != 0 {
			t.Fatalf("%d keys under %s, want none", resp.Count, prefix)
		}
	})

	t.Run("watch closes when its context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		events := registry.Watch(ctx, cli, "/cancel/", nil)
		cancel()
		select {
		case _, ok := <-events:
			if ok {
				t.Fatal("event on an empty prefix")
			}
		case <-time.After(waitFor):
			t.Fatalf("channel still open %v after cancel", waitFor)
		}
	})
}

func TestWatchSkipsInvalidValues(t *testing.T) {
	cli := registrytest.Start(t)
	tests := []struct {
		name    string
		id      string // key suffix of the bad value
		value   string
		wantLog string
	}{
		{name: "not JSON", id: "a", value: "not json{", wantLog: "not an entry"},
		{name: "JSON of another type", id: "a", value: `["a"]`, wantLog: "not an entry"},
		{name: "fails Validate", id: "a", value: `{"id":"a","endpoint":"ftp://h:1"}`, wantLog: `scheme "ftp"`},
		{name: "id differs from key", id: "a", value: `{"id":"b","endpoint":"http://h:1"}`, wantLog: `id "b" does not match`},
		{name: "key below an agent's key", id: "a/x", value: `{"id":"a","endpoint":"http://h:1"}`, wantLog: `does not match`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "/skip/" + string(rune('0'+i)) + "/"
			events, rec := watch(t, cli, prefix)
			ctx := context.Background()
			if _, err := cli.Put(ctx, prefix+tt.id, tt.value); err != nil {
				t.Fatal(err)
			}
			// The watch may start before or after the bad value is written:
			// it then meets it in the listing (in key order) or in the watch
			// (in revision order). Either way a good entry under a later key,
			// written later, comes after it.
			good := testEntry("z")
			register(t, cli, prefix, good, 10*time.Second)
			wantEvent(t, events, registry.EventPut, good)

			msgs := rec.messages()
			if len(msgs) != 1 || !strings.Contains(msgs[0], "skipping invalid entry") || !strings.Contains(msgs[0], tt.wantLog) {
				t.Fatalf("log = %q, want one warning about %q", msgs, tt.wantLog)
			}
		})
	}

	t.Run("bad value replacing a good one", func(t *testing.T) {
		const prefix = "/skip/replace/"
		events, _ := watch(t, cli, prefix)
		ctx := context.Background()
		good := testEntry("a")
		reg := register(t, cli, prefix, good, 10*time.Second)
		wantEvent(t, events, registry.EventPut, good)

		// The agent no longer announces a usable entry, so the old one
		// must not linger in the host's catalogue.
		if _, err := cli.Put(ctx, registry.Key(prefix, "a"), "garbage"); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, events, registry.EventDelete, good)

		// Closing and registering again writes a good value; it counts.
		if err := reg.Close(ctx); err != nil {
			t.Fatal(err)
		}
		register(t, cli, prefix, good, 10*time.Second)
		wantEvent(t, events, registry.EventPut, good)
	})
}
