package runtimes

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// Statuses are what the last check found: reading them calls no plugin,
// so API clients can't make the host hammer its plugins. A check, periodic
// or kicked, updates them and says when.
func TestStatusesShowTheLastCheck(t *testing.T) {
	fake := &fakeruntime.Runtime{Name: "alpha", DefaultPriority: 10}
	f := newFakes(t, fake)
	cfg := loadConfig(t, `runtime "alpha" {}`, "alpha")
	// No periodic check during the test: only Kick checks.
	m := New(Options{HostInstance: "h1", Launch: f.launch, HealthInterval: time.Hour})
	before := time.Now().UTC()
	if diags := m.Start(context.Background(), cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	t.Cleanup(m.Shutdown)

	first := m.Statuses()[0]
	if !first.Healthy || first.CheckedAt.Before(before) {
		t.Fatalf("after Start: %+v; want healthy, checked at start (after %v)", first, before)
	}
	fake.SetUnhealthy("engine unreachable")
	for range 3 {
		if st := m.Statuses()[0]; !st.Healthy || !st.CheckedAt.Equal(first.CheckedAt) {
			t.Fatalf("Statuses checked the plugin again: %+v", st)
		}
	}

	m.Kick("alpha")
	var st Status
	runtimetest.Eventually(t, 30*time.Second, "a kicked check to see the runtime unhealthy", func() bool {
		st = m.Statuses()[0]
		return !st.Healthy
	}, func() string { return fmt.Sprintf("%+v", st) })
	if st.Message != "engine unreachable" || !st.CheckedAt.After(first.CheckedAt) {
		t.Errorf("after a check: %+v; want the plugin's message and a later checkedAt than %v", st, first.CheckedAt)
	}
}
