package docker

import (
	"testing"
	"time"

	"github.com/parallax/parallax/plugins/runtime-docker/internal/testengine"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// TestConformance runs the sdk's suite against this runtime over a real
// gRPC connection, on the engine, with the busybox test image.
func TestConformance(t *testing.T) {
	testengine.Client(t)
	runtimetest.Run(t, runtimetest.Options{
		Shell:   testengine.Shell,
		Image:   testengine.Image,
		Timeout: 30 * time.Second,
		New: func(t *testing.T) runtime.Runtime {
			r := New(testLogger(t))
			t.Cleanup(func() { cleanupRuntime(t, r) })
			return runtimetest.ServeInProcess(t, r, testConfig(nil))
		},
	})
}
