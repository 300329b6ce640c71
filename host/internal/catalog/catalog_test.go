package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func agent(id string, caps []string, expertise string, healthy bool) Agent {
	a := Agent{ID: id, Endpoint: "http://127.0.0.1:9001", Capabilities: caps, Healthy: healthy, Source: SourceAPI}
	if expertise != "" {
		a.Metadata = map[string]string{"expertise": expertise}
	}
	return a
}

func ids(agents []Agent) []string {
	out := make([]string, len(agents))
	for i, a := range agents {
		out[i] = a.ID
	}
	return out
}

func TestMatchFiltersAndRanksAgents(t *testing.T) {
	pool := []Agent{
		agent("review-low", []string{"code_review"}, "0.5", true),
		agent("review-high", []string{"code_review", "security"}, "0.9", true),
		agent("review-sick", []string{"code_review"}, "0.95", false),
		agent("review-mid", []string{"code_review"}, "0.8", true),
		agent("review-silent", []string{"code_review"}, "", true),
		agent("tests", []string{"testing"}, "0.99", true),
	}
	load := map[string]int{"review-mid": 3, "review-twin": 0}
	tests := []struct {
		name string
		req  Requirement
		load func(string) int
		want []string
	}{
		{"capability and minimum, healthy first then expertise", Requirement{Capabilities: []string{"code_review"}, MinConfidence: 0.7},
			nil, []string{"review-high", "review-mid", "review-sick"}},
		{"every capability", Requirement{Capabilities: []string{"code_review", "security"}}, nil, []string{"review-high"}},
		{"count", Requirement{Capabilities: []string{"code_review"}, MinConfidence: 0.7, Count: 1}, nil, []string{"review-high"}},
		{"no minimum takes the silent ones too", Requirement{Capabilities: []string{"code_review"}},
			nil, []string{"review-high", "review-mid", "review-low", "review-silent", "review-sick"}},
		{"nothing qualifies", Requirement{Capabilities: []string{"deploy"}}, nil, []string{}},
		{"no capabilities asked: all", Requirement{MinConfidence: 0.95}, nil, []string{"tests", "review-sick"}},
		{"load breaks a tie", Requirement{Capabilities: []string{"code_review"}, MinConfidence: 0.8},
			func(id string) int { return load[id] }, []string{"review-high", "review-mid", "review-sick"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(Match(pool, tt.req, tt.load)); !slices.Equal(got, tt.want) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	// Equal but for load: the less loaded first.
	twins := []Agent{agent("b-busy", []string{"x"}, "0.8", true), agent("a-busy", []string{"x"}, "0.8", true), agent("c-idle", []string{"x"}, "0.8", true)}
	busy := map[string]int{"a-busy": 2, "b-busy": 2}
	if got := ids(Match(twins, Requirement{Capabilities: []string{"x"}}, func(id string) int { return busy[id] })); !slices.Equal(got, []string{"c-idle", "a-busy", "b-busy"}) {
		t.Errorf("by load, then id: %v", got)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		a     Agent
		field string
	}{
		{Agent{Endpoint: "http://x:1"}, "id"},
		{Agent{ID: "a/b", Endpoint: "http://x:1"}, "id"},
		{Agent{ID: "a"}, "endpoint"},
		{Agent{ID: "a", Endpoint: "not a url"}, "endpoint"},
		{Agent{ID: "a", Endpoint: "ftp://x:1"}, "endpoint"},
		{Agent{ID: "a", Endpoint: "http://x:1", Capabilities: []string{"ok", " "}}, "capabilities[1]"},
	}
	for _, tt := range tests {
		var fe *FieldError
		if err := Validate(tt.a); !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Validate(%+v) = %v; want an error on %s", tt.a, err, tt.field)
		}
	}
	if err := Validate(Agent{ID: "a", Endpoint: "grpc://127.0.0.1:9002", Capabilities: []string{"x"}}); err != nil {
		t.Errorf("a good agent: %v", err)
	}
}

func TestParseLocalAgents(t *testing.T) {
	good := `[{"id":"a1","name":"One","endpoint":"http://127.0.0.1:9001","capabilities":["testing"]},{"id":"a2","endpoint":"grpc://127.0.0.1:9002"}]`
	agents, err := ParseLocalAgents(good)
	if err != nil || len(agents) != 2 || agents[0].Name != "One" || agents[1].Source != SourceEnv {
		t.Fatalf("ParseLocalAgents(good) = %+v, %v", agents, err)
	}
	tests := []struct{ in, want string }{
		{`{"id":"a"}`, "not a JSON array"},
		{`[{"id":"a","endpoint":"http://x:1"}, {"id":"b"}]`, "PARALLAX_LOCAL_AGENTS[1].endpoint"},
		{`[{"id":"a","endpoint":"http://x:1","capabilities":"testing"}]`, "PARALLAX_LOCAL_AGENTS[0].capabilities"},
		{`[{"id":"a","endpoint":"http://x:1","port":1}]`, `PARALLAX_LOCAL_AGENTS[0]: field "port"`},
		{`[{"id":"a","endpoint":"http://x:1"},{"id":"a","endpoint":"http://x:2"}]`, "PARALLAX_LOCAL_AGENTS[1].id"},
	}
	for _, tt := range tests {
		if _, err := ParseLocalAgents(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLocalAgents(%s) = %v; want an error naming %s", tt.in, err, tt.want)
		}
	}
}

func TestCatalogSources(t *testing.T) {
	managed := []Agent{{ID: "m1", Source: SourceManaged, Healthy: true}}
	c := New(func() []Agent { return managed })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Put(Agent{ID: "e1", Endpoint: "http://127.0.0.1:1", Source: SourceEtcd}))
	must(c.Put(Agent{ID: "api1", Endpoint: "http://127.0.0.1:2", Source: SourceAPI}))
	if err := c.Put(Agent{ID: "e1", Endpoint: "http://127.0.0.1:3", Source: SourceAPI}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("registering another source's id: %v; want ErrDuplicate", err)
	}
	if err := c.Put(Agent{ID: "m1", Endpoint: "http://127.0.0.1:3", Source: SourceAPI}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("registering a managed agent's id: %v; want ErrDuplicate", err)
	}
	if got := ids(c.List()); !slices.Equal(got, []string{"api1", "e1", "m1"}) {
		t.Errorf("List = %v", got)
	}
	if err := c.Remove(SourceAPI, "e1"); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("removing etcd's agent through the API: %v", err)
	}
	// A re-list of etcd drops what is gone and keeps health.
	if !c.SetHealth("e1", false, time.Now()) {
		t.Error("SetHealth changed nothing")
	}
	errs := c.Sync(SourceEtcd, []Agent{{ID: "e1", Endpoint: "http://127.0.0.1:1"}, {ID: "e2", Endpoint: "http://127.0.0.1:4"}, {ID: "bad"}})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "endpoint") {
		t.Errorf("Sync errors %v; want one about bad's endpoint", errs)
	}
	if a, _ := c.Get("e1"); a.Healthy {
		t.Error("a re-registration forgot the failed health check")
	}
	must(c.Remove(SourceAPI, "api1"))
	c.Sync(SourceEtcd, nil)
	if got := ids(c.List()); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("after removals: %v", got)
	}
}

func TestMonitorMarksAndRecovers(t *testing.T) {
	c := New(nil)
	for _, id := range []string{"up", "flaky"} {
		if err := c.Put(Agent{ID: id, Endpoint: "http://127.0.0.1:1", Source: SourceAPI}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	down := map[string]bool{"flaky": true}
	check := func(_ context.Context, a Agent) error {
		mu.Lock()
		defer mu.Unlock()
		if down[a.ID] {
			return errors.New("connection refused")
		}
		return nil
	}
	changes := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Monitor(ctx, 10*time.Millisecond, time.Second, check, func(a Agent, err error) {
		changes <- fmt.Sprintf("%s healthy=%v err=%v", a.ID, a.Healthy, err)
	})
	if got := <-changes; got != "flaky healthy=false err=connection refused" {
		t.Errorf("first change %q", got)
	}
	if a, _ := c.Get("flaky"); a.Healthy {
		t.Error("flaky is still healthy in the catalogue")
	}
	mu.Lock()
	down["flaky"] = false
	mu.Unlock()
	if got := <-changes; got != "flaky healthy=true err=<nil>" {
		t.Errorf("recovery %q", got)
	}
	if a, _ := c.Get("up"); !a.Healthy {
		t.Error("a healthy agent was marked unhealthy")
	}
}

func FuzzParseLocalAgents(f *testing.F) {
	f.Add(`[{"id":"a1","name":"One","endpoint":"http://127.0.0.1:9001","capabilities":["testing"]}]`)
	f.Add(`[{"id":"a","endpoint":"grpc://x:1","metadata":{"expertise":"0.5"}},{"id":"b"}]`)
	f.Add(`{"id":"a"}`)
	f.Fuzz(func(t *testing.T, s string) {
		agents, err := ParseLocalAgents(s)
		if err != nil {
			if !strings.Contains(err.Error(), LocalAgentsEnv) {
				t.Fatalf("error %q does not name %s", err, LocalAgentsEnv)
			}
			return
		}
		// Whatever parses is a valid catalogue entry.
		c := New(nil)
		for _, a := range agents {
			if err := c.Put(a); err != nil {
				t.Fatalf("parsed agent %+v does not register: %v", a, err)
			}
		}
	})
}
