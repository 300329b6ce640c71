package kubernetes

import (
	"context"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// TestConformance runs the sdk's suite against this runtime over a real
// gRPC connection, on a real API server (see startCluster).
func TestConformance(t *testing.T) {
	c := startCluster(t)
	runtimetest.Run(t, runtimetest.Options{
		Timeout: time.Minute,
		// The test cluster has no metrics-server.
		StatsUnavailable: true,
		New: func(t *testing.T) runtime.Runtime {
			r := New(testLogger(t))
			t.Cleanup(func() { stopAll(r) })
			return runtimetest.ServeInProcess(t, r, clusterConfigJSON(c, nil))
		},
	})
}

// stopAll force-stops what a test left running.
func stopAll(r *Runtime) {
	infos, _ := r.List(context.Background())
	for _, info := range infos {
		_ = r.Stop(context.Background(), info.ID, runtime.StopOptions{Force: true})
	}
}
