package kubernetes

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/test/kube/testcluster"
	"github.com/parallax/parallax/test/kube/testkubelet"
)

// startCluster runs a real API server, scheduler and kwok, with the fake
// kubelet running the node's pods as local processes under a PTY: what
// the plugin does crosses the real API server, pods/attach included.
func startCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	return testkubelet.StartCluster(t)
}

// clusterConfig is the runtime's config block for c; extra adds to it.
func clusterConfigJSON(c *testcluster.Cluster, extra map[string]any) []byte {
	cfg := map[string]any{
		"kubeconfig":           c.Kubeconfig,
		"namespace":            c.Namespace,
		"default_image":        "busybox",
		"default_stop_timeout": "3s",
		"start_timeout":        "2m",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "runtime-kubernetes", Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// hostInstance is a fresh host instance, so tests sharing a cluster never
// see each other's pods.
func hostInstance() string { return fmt.Sprintf("test-%08x", rand.Uint32()) }
