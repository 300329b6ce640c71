package patterns

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/session"
)

// fakeManager stands in for the host's agents manager (the real one is
// exercised end to end in host/e2e): its agents are ready at once and
// answer every message, and each agent's first failStops graceful stops
// fail.
type fakeManager struct {
	failStops int

	mu      sync.Mutex
	next    int
	live    map[string]bool
	stops   map[string]int // graceful attempts per agent
	killed  map[string]bool
	killErr error
}

func newFakeManager(failStops int) *fakeManager {
	return &fakeManager{failStops: failStops, live: map[string]bool{}, stops: map[string]int{}, killed: map[string]bool{}}
}

func (f *fakeManager) Spawn(_ context.Context, req agents.SpawnRequest) (agents.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("m%d", f.next)
	f.live[id] = true
	return agents.View{ID: id, Name: req.Name, Type: req.Type, Status: session.StatusStarting, Runtime: "fake"}, nil
}

func (f *fakeManager) Get(id string) (agents.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[id] {
		return agents.View{}, agents.ErrNotFound
	}
	return agents.View{ID: id, Status: session.StatusReady}, nil
}

func (f *fakeManager) Send(_ context.Context, id, text string, _ bool, _ time.Duration) (string, error) {
	return "done: " + text + "\nConfidence: 0.6", nil
}

func (f *fakeManager) Delete(_ context.Context, id string, opts agents.StopOptions) (agents.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[id] {
		return agents.View{}, agents.ErrNotFound
	}
	if opts.Force {
		if f.killErr != nil {
			return agents.View{}, f.killErr
		}
		f.killed[id] = true
		delete(f.live, id)
		return agents.View{ID: id}, nil
	}
	f.stops[id]++
	if f.stops[id] <= f.failStops {
		return agents.View{}, errors.New("runtime unreachable")
	}
	delete(f.live, id)
	return agents.View{ID: id}, nil
}

func TestCleanupRetriesFailedStops(t *testing.T) {
	patterns := loadPatterns(t, `pattern "review" {
  agents {
    capabilities = ["code_review"]
    count        = 2
    agent_type   = "claude"
  }
  task = "Review ${input.files}"
}`)
	tests := []struct {
		name       string
		failStops  int
		killErr    error
		wantStops  int  // graceful attempts per agent
		wantKilled bool // killed at last
		wantLive   bool // still there: the kill failed too
	}{
		{name: "stops at once", failStops: 0, wantStops: 1},
		{name: "stops on the second try", failStops: 1, wantStops: 2},
		{name: "killed after three failed stops", failStops: 5, wantStops: stopAttempts, wantKilled: true},
		{name: "kill fails too", failStops: 5, killErr: errors.New("gone wrong"), wantStops: stopAttempts, wantLive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newFakeManager(tt.failStops)
			m.killErr = tt.killErr
			e := New(hclog.NewNullLogger(), patterns, catalog.New(nil), m, nil)
			e.stopRetryDelay = time.Millisecond
			defer e.Shutdown()
			id, err := e.Execute("review", map[string]string{"files": "a.go"})
			if err != nil {
				t.Fatal(err)
			}
			if x := waitDone(t, e, id); x.Status != StatusCompleted || len(x.Agents) != 2 || x.Confidence != 0.6 {
				t.Fatalf("execution %+v", x)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.next != 2 {
				t.Fatalf("%d agents spawned, want 2", m.next)
			}
			for _, id := range []string{"m1", "m2"} {
				if m.stops[id] != tt.wantStops || m.killed[id] != tt.wantKilled || m.live[id] != tt.wantLive {
					t.Errorf("agent %s: %d stops, killed %v, live %v; want %d, %v, %v",
						id, m.stops[id], m.killed[id], m.live[id], tt.wantStops, tt.wantKilled, tt.wantLive)
				}
			}
		})
	}
}
