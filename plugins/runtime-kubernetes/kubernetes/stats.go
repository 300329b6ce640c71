package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/parallax/parallax/sdk/runtime"
)

// Stats reads the metrics API. Without metrics-server there is none, and
// the stats are unavailable rather than zero.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	raw, err := a.client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", a.namespace, "pods", a.name).DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		// Unavailable, not zero: the host shows no figures.
		return runtime.Stats{}, fmt.Errorf("%w: stats of pod %s: the cluster serves no metrics API (install metrics-server), or has no sample of the pod yet", runtime.ErrUnsupported, a.name)
	}
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("stats of pod %s: %w", a.name, err)
	}
	return podStats(raw, a.StartedAt)
}

// podStats reads a PodMetrics object of the metrics API.
func podStats(raw []byte, startedAt time.Time) (runtime.Stats, error) {
	var m struct {
		Containers []struct {
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return runtime.Stats{}, fmt.Errorf("reading pod metrics: %w", err)
	}
	var st runtime.Stats
	for _, c := range m.Containers {
		// Usage comes as quantities like "1234567n" (nanocores) and "20Mi".
		if cpu, err := resource.ParseQuantity(c.Usage["cpu"]); err == nil {
			st.CPUPercent += float64(cpu.ScaledValue(resource.Nano)) / 1e7
		}
		if mem, err := resource.ParseQuantity(c.Usage["memory"]); err == nil && mem.Value() > 0 {
			st.MemoryBytes += uint64(mem.Value())
		}
	}
	if !startedAt.IsZero() {
		st.Uptime = time.Since(startedAt)
	}
	return st, nil
}
