package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/parallax/parallax/sdk/runtime"
)

func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	return a.stats(ctx)
}

// cpuSample is a point on a container's cumulative CPU time, with the
// machine's, as the engine reports both.
type cpuSample struct {
	container uint64 // ns the container used
	system    uint64 // ns all CPUs of the machine spent
	online    uint32 // CPUs online
}

func sampleOf(s container.CPUStats) cpuSample {
	online := s.OnlineCPUs
	if online == 0 {
		online = uint32(len(s.CPUUsage.PercpuUsage))
	}
	return cpuSample{container: s.CPUUsage.TotalUsage, system: s.SystemUsage, online: online}
}

// cpuPercent is what `docker stats` shows: the container's share of the
// machine's CPU time between two samples, times the CPUs, so that 100 is
// one full core. Counters that went backwards (a restarted engine) read as
// 0.
func cpuPercent(prev, cur cpuSample) float64 {
	if prev.system == 0 || cur.system <= prev.system || cur.container <= prev.container {
		return 0
	}
	return float64(cur.container-prev.container) / float64(cur.system-prev.system) * float64(cur.online) * 100
}

// memoryBytes is the usage without the page cache the kernel can drop at
// once (inactive files), as `docker stats` shows it: otherwise an agent
// that read a big repository would look like it uses all that memory.
func memoryBytes(m container.MemoryStats) uint64 {
	// cgroup v1 names it total_inactive_file, v2 inactive_file.
	for _, key := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := m.Stats[key]; ok && v < m.Usage {
			return m.Usage - v
		}
	}
	return m.Usage
}

// stats asks the engine for the container's usage. CPU is the share since
// the previous call; on the first call the engine takes two samples a
// second apart itself.
func (a *agent) stats(ctx context.Context) (runtime.Stats, error) {
	if a.HasExited() {
		return runtime.Stats{Uptime: a.Uptime()}, nil
	}
	a.mu.Lock()
	prev := a.sample
	a.mu.Unlock()
	first := prev.system == 0
	res, err := a.cli.ContainerStats(ctx, a.container, client.ContainerStatsOptions{IncludePreviousSample: first})
	if err != nil {
		if a.HasExited() {
			return a.stats(ctx)
		}
		return runtime.Stats{}, fmt.Errorf("stats of container %s: %w", shortID(a.container), err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return runtime.Stats{}, fmt.Errorf("stats of container %s: %w", shortID(a.container), err)
	}
	cur := sampleOf(s.CPUStats)
	if first {
		prev = sampleOf(s.PreCPUStats)
	}
	a.mu.Lock()
	a.sample = cur
	a.mu.Unlock()
	return runtime.Stats{
		CPUPercent:  cpuPercent(prev, cur),
		MemoryBytes: memoryBytes(s.MemoryStats),
		Uptime:      a.Uptime(),
		Processes:   int(s.PidsStats.Current),
	}, nil
}
