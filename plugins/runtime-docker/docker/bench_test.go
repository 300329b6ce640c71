package docker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// BenchmarkSpawn measures, on the test image: Start until the container
// runs (spawn-to-running), and until its first output reaches an attached
// reader, one agent at a time; then 20 agents started at once.
//
//	go test -run '^$' -bench Spawn -benchtime 1x ./plugins/runtime-docker/docker/
func BenchmarkSpawn(b *testing.B) {
	r := newRuntime(b, "", nil)
	ctx := context.Background()
	for b.Loop() {
		const sequential = 10
		var running, output []time.Duration
		for i := range sequential {
			id := fmt.Sprintf("bench-%d", i)
			began := time.Now()
			if _, err := r.Start(ctx, runtime.Spec{ID: id, Argv: sh("echo ready; exec sleep 300")}); err != nil {
				b.Fatal(err)
			}
			running = append(running, time.Since(began))
			c, err := r.Attach(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Read(make([]byte, 64)); err != nil {
				b.Fatal(err)
			}
			output = append(output, time.Since(began))
			c.Close()
			if err := r.Stop(ctx, id, runtime.StopOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
		}

		const concurrent = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		var each []time.Duration
		began := time.Now()
		for i := range concurrent {
			wg.Go(func() {
				t0 := time.Now()
				_, err := r.Start(ctx, runtime.Spec{ID: fmt.Sprintf("bench-c%d", i), Argv: sh("exec sleep 300")})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				each = append(each, time.Since(t0))
				mu.Unlock()
			})
		}
		wg.Wait()
		all := time.Since(began)
		cleanupRuntime(b, r)

		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(p(running, 50)), "spawn-to-running-p50-ms")
		b.ReportMetric(ms(p(output, 50)), "spawn-to-output-p50-ms")
		b.ReportMetric(ms(all), "20-concurrent-all-running-ms")
		fmt.Printf("runtime-docker, %d sequential spawns: spawn-to-running p50 %.0f ms, max %.0f ms; spawn-to-first-output p50 %.0f ms\n",
			sequential, ms(p(running, 50)), ms(p(running, 100)), ms(p(output, 50)))
		fmt.Printf("runtime-docker, %d concurrent spawns: all running after %.0f ms; each p50 %.0f ms, max %.0f ms\n",
			concurrent, ms(all), ms(p(each, 50)), ms(p(each, 100)))
	}
}

// p is the q-th percentile of ds.
func p(ds []time.Duration, q int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)-1)*q/100)]
}
