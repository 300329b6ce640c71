package agents

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// storedManager is a manager on fake runtime rt that keeps its history in
// the store at path, as a host started on that data dir would.
func storedManager(t *testing.T, rt runtimes.Candidate, path string) (*Manager, *store.Store) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := NewManager(hclog.NewNullLogger(), fixedRuntimes{[]runtimes.Candidate{rt}}, Options{Store: st, DataDir: t.TempDir()})
	return m, st
}

func TestDeleteKeepsTheHistoryAndPurgeRemovesIt(t *testing.T) {
	rt := candidate(t, &fakeruntime.Runtime{Name: "fake"})
	m, st := storedManager(t, rt, filepath.Join(t.TempDir(), "parallax.db"))
	ctx := context.Background()
	keep, err := m.Spawn(ctx, SpawnRequest{Type: "custom", Name: "kept", Command: []string{"sleep", "60"},
		Credentials: adapter.Credentials{AnthropicKey: "sk-ant-history-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	purge, err := m.Spawn(ctx, SpawnRequest{Type: "custom", Name: "purged", Command: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{keep.ID, purge.ID} {
		if _, ok, err := st.Agent(id); err != nil || !ok {
			t.Fatalf("agent %s has no record after its spawn: %v", id, err)
		}
	}

	if v, err := m.Delete(ctx, keep.ID, StopOptions{}); err != nil || !v.Removed || v.Status != session.StatusStopped {
		t.Fatalf("delete: %+v, %v", v, err)
	}
	if _, err := m.Delete(ctx, purge.ID, StopOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}

	listed, _ := m.List(false)
	if len(listed) != 0 {
		t.Errorf("List(false) after both deletes = %+v, want none", listed)
	}
	all, _ := m.List(true)
	if len(all) != 1 || all[0].ID != keep.ID || !all[0].Removed || all[0].Name != "kept" || all[0].EndedAt == nil {
		t.Errorf("List(true) = %+v, want the kept agent, removed and ended", all)
	}
	if v, err := m.Get(keep.ID); err != nil || v.ID != keep.ID {
		t.Errorf("Get of a deleted agent: %+v, %v; want it from the history", v, err)
	}
	if _, err := m.Get(purge.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a purged agent: %v, want ErrNotFound", err)
	}
	// Deleting again with purge removes the kept one too.
	if _, err := m.Delete(ctx, keep.ID, StopOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(keep.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after purging the history: %v, want ErrNotFound", err)
	}

	// No credential went into the store.
	recs, _ := st.Agents()
	for _, r := range recs {
		if strings.Contains(string(r.Request), "sk-ant-history-secret") {
			t.Errorf("the store holds the key: %s", r.Request)
		}
	}
}

func TestARestartedHostGetsItsAgentsBack(t *testing.T) {
	fake := &fakeruntime.Runtime{Name: "fake", Screen: func(runtime.Spec) []byte { return []byte("$ ") }}
	rt := candidate(t, fake)
	path := filepath.Join(t.TempDir(), "parallax.db")
	m1, st1 := storedManager(t, rt, path)
	ctx := context.Background()
	running, err := m1.Spawn(ctx, SpawnRequest{Type: "custom", Name: "runner", Role: "reviewer", Capabilities: []string{"review"}, Command: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := m1.Spawn(ctx, SpawnRequest{Type: "custom", Name: "gone", Command: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 10*time.Second, "the runner's screen in the store", func() bool {
		n, _ := st1.OutputSize(running.ID)
		return n > 0
	}, func() string { return "" })
	// The host dies: nothing of m1 is stopped. Its runtime keeps "runner"
	// running and lost "gone" (as a plugin that died with it would).
	m1.Detach()
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fake.Stop(ctx, gone.ID, runtime.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}

	m2, _ := storedManager(t, rt, path)
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	infos, _ := fake.List(ctx)
	m2.Adopt("fake", infos)
	m2.EndUnadopted()

	v, err := m2.Get(running.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "runner" || v.Role != "reviewer" || len(v.Capabilities) != 1 || !v.CreatedAt.Equal(running.CreatedAt) || !v.Status.Live() {
		t.Errorf("adopted agent = %+v; want the record's name, role, capabilities and creation time, and live", v)
	}
	g, err := m2.Get(gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status.Live() || g.EndedAt == nil || !strings.Contains(g.Error, "while the host was down") {
		t.Errorf("the agent that ended while the host was down = %+v; want it ended, saying so", g)
	}
	listed, _ := m2.List(false)
	if len(listed) != 2 {
		t.Errorf("List after the restart = %+v, want both agents", listed)
	}
	// The adopted agent's output continues in the same log.
	logs, err := m2.Logs(running.ID, 0, true)
	if err != nil || !strings.Contains(string(logs), "$") {
		t.Errorf("logs of the adopted agent = %q, %v", logs, err)
	}
	runtimetest.Eventually(t, 10*time.Second, "the adopted agent ready", func() bool {
		v, _ := m2.Get(running.ID)
		return v.Status == session.StatusReady
	}, func() string { v, _ := m2.Get(running.ID); return string(v.Status) })
}
