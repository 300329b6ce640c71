package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// fakeCLIRuntime is a fake runtime whose agents show their CLI's prompt,
// as recorded in the adapters' testdata, so that they get ready.
func fakeCLIRuntime(t *testing.T, name string) *fakeruntime.Runtime {
	return &fakeruntime.Runtime{Name: name, Screen: func(spec runtime.Spec) []byte {
		b, err := os.ReadFile(filepath.Join("..", "adapter", "testdata", spec.Labels[LabelType], "ready.raw"))
		if err != nil {
			t.Error(err)
		}
		return b
	}}
}

// poolManager returns a started manager with pools on the runtimes rts, in
// order of preference.
func poolManager(t *testing.T, pools []config.WarmPool, rts ...*fakeruntime.Runtime) *Manager {
	t.Helper()
	var cands []runtimes.Candidate
	for _, r := range rts {
		cands = append(cands, candidate(t, r))
	}
	m := NewManager(hclog.NewNullLogger(), fixedRuntimes{cands}, Options{Settle: 20 * time.Millisecond, WarmPool: pools})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	m.StartPools()
	return m
}

// idle returns the ids of the pool agents of typ that are ready to take.
func idle(m *Manager, typ string) []string {
	var ids []string
	for _, v := range m.Live() {
		if v.Pooled && v.Type == typ && v.Status == session.StatusReady {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// waitIdle waits until the pool of typ has n agents ready to take, and
// returns their ids.
func waitIdle(t *testing.T, m *Manager, typ string, n int) []string {
	t.Helper()
	var ids []string
	runtimetest.Eventually(t, 30*time.Second, fmt.Sprintf("%d %s agents idle in the pool", n, typ), func() bool {
		ids = idle(m, typ)
		return len(ids) == n
	}, func() string { return fmt.Sprintf("%d idle: %+v", len(ids), m.Live()) })
	return ids
}

func statsOf(m *Manager, typ string) PoolStats {
	for _, s := range m.PoolStats() {
		if s.Type == typ {
			return s
		}
	}
	return PoolStats{}
}

func TestPoolFillsAndRefillsAfterASpawnTakesOne(t *testing.T) {
	fake := fakeCLIRuntime(t, "fake")
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 2}}, fake)
	pooled := waitIdle(t, m, "claude", 2)

	v, err := m.Spawn(context.Background(), SpawnRequest{Type: "claude", Name: "taker", Role: "reviewer", Capabilities: []string{"code_review"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pooled, v.ID) || v.Pooled || v.Status != session.StatusReady || v.Name != "taker" || v.Role != "reviewer" ||
		!slices.Equal(v.Capabilities, []string{"code_review"}) || v.Runtime != "fake" {
		t.Fatalf("spawn = %+v; want one of the pool's agents %v, ready, no longer pooled, named as asked", v, pooled)
	}
	refilled := waitIdle(t, m, "claude", 2)
	if slices.Contains(refilled, v.ID) {
		t.Errorf("the taken agent %s is still in the pool: %v", v.ID, refilled)
	}
	if got, _ := m.Get(v.ID); got.Pooled || got.Name != "taker" {
		t.Errorf("taken agent later = %+v", got)
	}
	if n := len(fake.Started()); n != 3 {
		t.Errorf("the runtime runs %d agents, want the taken one and 2 in the pool", n)
	}
	if s := statsOf(m, "claude"); s.Hits != 1 || s.Misses != 0 || s.Size != 2 || s.Ready != 2 || s.Spawned != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestPoolServesOnlyCompatibleRequests(t *testing.T) {
	pools := []config.WarmPool{{Type: "claude", Size: 1}, {Type: "codex", Runtime: "b", Size: 1}}
	tests := []struct {
		name string
		req  SpawnRequest
		want string // hit, miss, incompatible, or "" for a type without a pool
	}{
		{"plain", SpawnRequest{Type: "claude"}, "hit"},
		{"name, role and capabilities", SpawnRequest{Type: "claude", Name: "n", Role: "r", Capabilities: []string{"c"}}, "hit"},
		{"the pool agent's runtime", SpawnRequest{Type: "claude", Runtime: "a"}, "hit"},
		{"the type's own approval", SpawnRequest{Type: "claude", Approval: "autonomous"}, "hit"},
		{"another runtime than the unpinned pool's agent is on", SpawnRequest{Type: "claude", Runtime: "b"}, "miss"},
		{"workdir", SpawnRequest{Type: "claude", Workdir: "TEMPDIR"}, "incompatible"},
		{"env", SpawnRequest{Type: "claude", Env: map[string]string{"A": "1"}}, "incompatible"},
		{"credentials", SpawnRequest{Type: "claude", Credentials: adapter.Credentials{AnthropicKey: "sk-ant-test"}}, "incompatible"},
		{"command", SpawnRequest{Type: "claude", Command: []string{"/opt/claude"}}, "incompatible"},
		{"resources", SpawnRequest{Type: "claude", Resources: Resources{Memory: "1Gi"}}, "incompatible"},
		{"another approval", SpawnRequest{Type: "claude", Approval: "ask"}, "incompatible"},
		{"pinned pool, any runtime", SpawnRequest{Type: "codex"}, "hit"},
		{"pinned pool, its runtime", SpawnRequest{Type: "codex", Runtime: "b"}, "hit"},
		{"pinned pool, another runtime", SpawnRequest{Type: "codex", Runtime: "a"}, "incompatible"},
		{"a type without a pool", SpawnRequest{Type: "gemini"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Workdir == "TEMPDIR" {
				tt.req.Workdir = t.TempDir()
			}
			m := poolManager(t, pools, fakeCLIRuntime(t, "a"), fakeCLIRuntime(t, "b"))
			pooled := append(waitIdle(t, m, "claude", 1), waitIdle(t, m, "codex", 1)...)

			v, err := m.Spawn(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if hit := slices.Contains(pooled, v.ID); hit != (tt.want == "hit") || v.Pooled {
				t.Errorf("spawn got %s (pooled %t), pool had %v; want a hit: %t", v.ID, v.Pooled, pooled, tt.want == "hit")
			}
			var got []string
			for _, s := range m.PoolStats() {
				for _, c := range []struct {
					n    uint64
					what string
				}{{s.Hits, "hit"}, {s.Misses, "miss"}, {s.Incompatible, "incompatible"}} {
					if c.n > 0 {
						got = append(got, fmt.Sprintf("%s %s x%d", s.Type, c.what, c.n))
					}
				}
			}
			var want []string
			if tt.want != "" {
				want = []string{fmt.Sprintf("%s %s x1", tt.req.Type, tt.want)}
			}
			if !slices.Equal(got, want) {
				t.Errorf("counted %q, want %q", got, want)
			}
		})
	}
}

// Spawns racing for the pool never get the same agent, and each agent
// gets its own spawn's name.
func TestPoolTakeIsRaceFree(t *testing.T) {
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 3}}, fakeCLIRuntime(t, "fake"))
	pooled := waitIdle(t, m, "claude", 3)

	const spawns = 10
	views := make([]View, spawns)
	var wg sync.WaitGroup
	for i := range spawns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Spawn(context.Background(), SpawnRequest{Type: "claude", Name: fmt.Sprint("w-", i)})
			if err != nil {
				t.Error(err)
			}
			views[i] = v
		}()
	}
	wg.Wait()

	seen := map[string]bool{}
	fromPool := 0
	for i, v := range views {
		if seen[v.ID] {
			t.Fatalf("agent %s was given to two spawns", v.ID)
		}
		seen[v.ID] = true
		if got, _ := m.Get(v.ID); got.Name != fmt.Sprint("w-", i) || got.Pooled {
			t.Errorf("spawn %d got %+v, want it named w-%d and no longer pooled", i, got, i)
		}
		if slices.Contains(pooled, v.ID) {
			fromPool++
		}
	}
	s := statsOf(m, "claude")
	// Refills may have become ready meanwhile and been taken too.
	if fromPool != len(pooled) || s.Hits < uint64(fromPool) || s.Hits+s.Misses != spawns {
		t.Errorf("%d of the %d pool agents taken, stats %+v; want all taken, and %d spawns counted", fromPool, len(pooled), s, spawns)
	}
}

func TestPoolReplacesAnAgentThatDies(t *testing.T) {
	fake := fakeCLIRuntime(t, "fake")
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 1}}, fake)
	dead := waitIdle(t, m, "claude", 1)[0]

	if err := fake.Exit(dead, 1); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 30*time.Second, "the dead pool agent to be replaced", func() bool {
		ids := idle(m, "claude")
		_, err := m.Get(dead)
		return len(ids) == 1 && ids[0] != dead && errors.Is(err, ErrNotFound)
	}, func() string { return fmt.Sprintf("%+v", m.Live()) })
	if s := statsOf(m, "claude"); s.Replaced != 1 || s.Spawned != 2 {
		t.Errorf("stats = %+v, want 1 replaced, 2 spawned", s)
	}
}

// A runtime that refuses every start costs a spawn per backoff, not a loop.
func TestPoolBacksOffWhileSpawnsFail(t *testing.T) {
	broken := &fakeruntime.Runtime{Name: "broken", StartErr: errors.New("engine down")}
	began := time.Now()
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 2}}, broken)
	runtimetest.Eventually(t, 30*time.Second, "the pool to try a spawn", func() bool {
		return statsOf(m, "claude").SpawnFailed > 0
	}, nil)
	// Tries at 0, 1s, 3s, 7s …: whatever the machine's speed, no more
	// than two fit into 1.5s.
	time.Sleep(time.Until(began.Add(1500 * time.Millisecond)))
	if s := statsOf(m, "claude"); s.SpawnFailed > 2 || s.Spawned != 0 {
		t.Errorf("stats after 1.5s = %+v; want at most 2 failed spawns", s)
	}
	if len(m.Live()) != 0 {
		t.Errorf("failed pool spawns left agents: %+v", m.Live())
	}
}

func TestPoolBackoffDoubles(t *testing.T) {
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 100: time.Minute} {
		if got := poolBackoff(failures); got != want {
			t.Errorf("poolBackoff(%d) = %s, want %s", failures, got, want)
		}
	}
}

// An idle pool agent is nobody's until a spawn takes it: it can't be
// driven, only deleted, and then its pool replaces it.
func TestPooledAgentRefusesToBeDriven(t *testing.T) {
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 1}}, fakeCLIRuntime(t, "fake"))
	id := waitIdle(t, m, "claude", 1)[0]

	_, sendErr := m.Send(context.Background(), id, "hello", false, time.Second)
	_, credErr := m.ProvideCredentials(context.Background(), id, "sk-ant-test")
	for what, err := range map[string]error{
		"Send": sendErr, "ProvideCredentials": credErr, "Answer": m.Answer(id, []string{"Enter"}, 0),
		"Input": m.Input(id, []byte("x")), "Resize": m.Resize(id, 80, 24),
	} {
		if !errors.Is(err, ErrPooled) {
			t.Errorf("%s on a pooled agent: %v, want ErrPooled", what, err)
		}
	}

	if _, err := m.Delete(context.Background(), id, StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	next := waitIdle(t, m, "claude", 1)[0]
	if next == id {
		t.Fatalf("the deleted agent %s is back in the pool", id)
	}
	if s := statsOf(m, "claude"); s.Replaced != 0 {
		t.Errorf("a deleted agent counted as replaced: %+v", s)
	}
}

func TestShutdownStopsIdlePoolAgents(t *testing.T) {
	fake := fakeCLIRuntime(t, "fake")
	m := poolManager(t, []config.WarmPool{{Type: "claude", Size: 2}}, fake)
	waitIdle(t, m, "claude", 2)

	m.Shutdown(context.Background())

	if left := fake.Started(); len(left) != 0 {
		t.Errorf("the runtime still runs %v after shutdown", left)
	}
	for _, v := range m.Live() {
		if v.Status != session.StatusStopped {
			t.Errorf("after shutdown %s is %s", v.ID, v.Status)
		}
	}
	// The pools stopped too: nothing refills them.
	time.Sleep(100 * time.Millisecond)
	if left := fake.Started(); len(left) != 0 {
		t.Errorf("the pool spawned %v after shutdown", left)
	}
}
