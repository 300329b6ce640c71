package main

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// TestConformance runs the sdk's suite against the skeleton over a real
// gRPC connection, as the host would drive it.
func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Options{
		LocalWorkdir: true,
		New: func(t *testing.T) runtime.Runtime {
			r := New(hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Info}))
			t.Cleanup(func() {
				// Whatever a failed subtest left running goes with it.
				ids, _ := r.agents.List()
				for _, info := range ids {
					_ = r.Stop(t.Context(), info.ID, runtime.StopOptions{Force: true})
				}
			})
			return runtimetest.ServeInProcess(t, r, nil)
		},
	})
}
