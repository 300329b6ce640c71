package e2e

import (
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkSpawnLatency measures spawn-to-running through the whole chain:
// REST, host, plugin over gRPC, PTY. The POST returns once the process
// runs. Run with `make bench`.
func BenchmarkSpawnLatency(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	const samples = 200
	var lat []time.Duration
	for range b.N {
		for range samples {
			var a agent
			start := time.Now()
			code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sleep", "300"}}, &a)
			lat = append(lat, time.Since(start))
			// The POST returns once the process runs; "ready" needs its
			// screen to settle, which is the sessions' own bench.
			if code != http.StatusCreated || a.Status != "starting" {
				b.Fatalf("spawn: %d %+v", code, a)
			}
			h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSpawn100Concurrent measures the wall time to start 100 agents at
// once.
func BenchmarkSpawn100Concurrent(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	var walls []time.Duration
	for range b.N {
		ids := make([]string, 100)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var a agent
				if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sleep", "300"}}, &a); code != http.StatusCreated {
					b.Errorf("spawn: %d", code)
				}
				ids[i] = a.ID
			}()
		}
		wg.Wait()
		walls = append(walls, time.Since(start))
		for _, id := range ids {
			h.do("DELETE", "/api/managed-agents/"+id+"?force=true", nil, nil)
		}
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	b.ReportMetric(ms(walls[len(walls)/2]), "ms/100-agents")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
