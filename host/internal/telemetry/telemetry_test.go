package telemetry

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsHandlerExposesEverySeries(t *testing.T) {
	m := New(Sources{
		Agents: func() []AgentState {
			return []AgentState{{"ready", "claude", "local"}, {"ready", "claude", "local"}, {"busy", "codex", "docker"}}
		},
		Runtimes: func() []RuntimeState {
			return []RuntimeState{{Name: "local", Healthy: true, ActiveAgents: 2}, {Name: "docker", Healthy: false}}
		},
		Catalog: func() map[string]int { return map[string]int{"etcd": 4, "managed": 3} },
		WarmPool: func() []PoolState {
			return []PoolState{
				{Type: "claude", Size: 2, Ready: 1, Hits: 3, Misses: 1, Incompatible: 5, Spawned: 6, SpawnFailed: 2, Replaced: 1},
				{Type: "codex", Size: 1},
			}
		},
	})
	m.Spawned("claude", "local", 300*time.Millisecond, nil)
	m.Spawned("claude", "", time.Second, errors.New("no runtime"))
	m.Message()
	m.Message()

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`parallax_agents{runtime="local",status="ready",type="claude"} 2`,
		`parallax_agents{runtime="docker",status="busy",type="codex"} 1`,
		`parallax_runtime_healthy{runtime="local"} 1`,
		`parallax_runtime_healthy{runtime="docker"} 0`,
		`parallax_runtime_active_agents{runtime="local"} 2`,
		`parallax_catalog_agents{source="etcd"} 4`,
		`parallax_spawns_total{result="ok",runtime="local",type="claude"} 1`,
		`parallax_spawns_total{result="failed",runtime="",type="claude"} 1`,
		`parallax_spawn_duration_seconds_bucket{runtime="local",type="claude",le="0.5"} 1`,
		`parallax_spawn_duration_seconds_bucket{runtime="local",type="claude",le="0.25"} 0`,
		`parallax_messages_total 2`,
		`parallax_warm_pool_size{type="claude"} 2`,
		`parallax_warm_pool_ready{type="claude"} 1`,
		`parallax_warm_pool_requests_total{result="hit",type="claude"} 3`,
		`parallax_warm_pool_requests_total{result="miss",type="claude"} 1`,
		`parallax_warm_pool_requests_total{result="incompatible",type="claude"} 5`,
		`parallax_warm_pool_hit_ratio{type="claude"} 0.75`,
		`parallax_warm_pool_spawns_total{result="failed",type="claude"} 2`,
		`parallax_warm_pool_replaced_total{type="claude"} 1`,
		`parallax_warm_pool_requests_total{result="miss",type="codex"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A ratio of no requests would be 0/0.
	if strings.Contains(string(body), `parallax_warm_pool_hit_ratio{type="codex"}`) {
		t.Errorf("/metrics has a hit ratio for a pool nobody asked of")
	}
}
