package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/plugins/runtime-docker/internal/testengine"
	"github.com/parallax/parallax/sdk/runtime"
)

// patience bounds every wait in the tests; it is a deadline for a
// condition, never a measure of speed.
const patience = 30 * time.Second

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn, Output: os.Stderr})
}

// testHost returns a host instance name no other test shares, so tests
// never see each other's containers.
func testHost(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("test-%s-%06d", name, rand.IntN(1e6))
}

// testConfig is the config every engine test uses: the test image, never
// pulled, no network; extra overrides or adds attributes.
func testConfig(extra map[string]any) []byte {
	cfg := map[string]any{
		"default_image": testengine.Image,
		"images":        map[string]string{},
		"pull_policy":   "never",
		"network":       "none",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	return raw
}

// newRuntime configures a runtime on the test engine and, at the end of
// the test, stops its agents.
func newRuntime(t testing.TB, host string, extra map[string]any) *Runtime {
	t.Helper()
	testengine.Client(t)
	if host == "" {
		host = testHost(t)
	}
	r := New(testLogger(t))
	if err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: host, Config: testConfig(extra)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { cleanupRuntime(t, r) })
	return r
}

// cleanupRuntime force-stops whatever r still holds, so no test leaves a
// container behind.
func cleanupRuntime(t testing.TB, r *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	infos, _ := r.List(ctx)
	for _, info := range infos {
		if err := r.Stop(ctx, info.ID, runtime.StopOptions{Force: true}); err != nil {
			t.Errorf("cleanup: stop %s: %v", info.ID, err)
		}
	}
}
