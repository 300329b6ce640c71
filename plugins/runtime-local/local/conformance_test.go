package local

import (
	"encoding/json"
	"testing"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// TestConformance runs the sdk's suite against this runtime over a real
// gRPC connection, with cgroups and without.
func TestConformance(t *testing.T) {
	for _, mode := range []string{cgroupsAuto, cgroupsOff} {
		t.Run(mode, func(t *testing.T) {
			runtimetest.Run(t, runtimetest.Options{
				LocalWorkdir: true,
				New: func(t *testing.T) runtime.Runtime {
					cfg, _ := json.Marshal(map[string]string{"state_dir": t.TempDir(), "cgroups": mode})
					r := New(testLogger(t))
					t.Cleanup(func() { cleanupRuntime(t, r) })
					return runtimetest.ServeInProcess(t, r, cfg)
				},
			})
		})
	}
}
