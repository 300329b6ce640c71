package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkRestartWith100Agents measures a host restart after SIGKILL with
// 100 running agents to re-adopt: from starting the new host process until
// it serves, and until all 100 are ready again. Target: serving in under
// 2 s on the 2-core test machine.
//
//	go test -run '^$' -bench RestartWith100Agents -benchtime 1x ./host/e2e/
func BenchmarkRestartWith100Agents(b *testing.B) {
	path := writeConfig(b, "")
	h := startHost(b, path)
	spawnMany(b, h, 100, []string{"/bin/sh", "-c", "echo ready; exec sleep 600"})
	waitCount(b, h, "?status=ready", 100)
	for range b.N {
		killHost(h)
		start := time.Now()
		h = startHost(b, path)
		serving := time.Since(start)
		waitCount(b, h, "?status=ready", 100)
		b.ReportMetric(ms(serving), "ms-to-serving")
		b.ReportMetric(ms(time.Since(start)), "ms-to-100-ready")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkHostMemoryWith1000EndedAgents reports the host's resident memory
// empty, then with 1,000 agents that ran and ended in this run, then after
// a restart with those 1,000 in its history only. History must not hold
// the agents' buffers in memory.
//
//	go test -run '^$' -bench HostMemoryWith1000EndedAgents -benchtime 1x ./host/e2e/
func BenchmarkHostMemoryWith1000EndedAgents(b *testing.B) {
	path := writeConfigServer(b, "  max_agents = 5000", "", "")
	for range b.N {
		h := startHost(b, path)
		time.Sleep(time.Second)
		b.ReportMetric(rssMiB(b, h.cmd.Process.Pid), "MiB-empty")
		spawnMany(b, h, 1000, []string{"/bin/sh", "-c", "echo some output of the agent; exit 0"})
		waitCount(b, h, "?status=stopped", 1000)
		time.Sleep(time.Second)
		b.ReportMetric(rssMiB(b, h.cmd.Process.Pid), "MiB-1000-ended")
		killHost(h)
		h = startHost(b, path)
		waitCount(b, h, "?status=stopped", 1000)
		time.Sleep(time.Second)
		b.ReportMetric(rssMiB(b, h.cmd.Process.Pid), "MiB-1000-in-history")
		h.stop()
	}
	b.ReportMetric(0, "ns/op")
}

// spawnMany spawns n custom agents running command, 20 at a time.
func spawnMany(b *testing.B, h *host, n int, command []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if code, err := h.doErr("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": command}, nil); err != nil || code != http.StatusCreated {
				b.Errorf("spawn: %d %v", code, err)
			}
		}()
	}
	wg.Wait()
}

func waitCount(b *testing.B, h *host, query string, n int) {
	var list []agent
	eventually(b, fmt.Sprintf("%d agents %s", n, query), func() bool {
		h.do("GET", "/api/managed-agents"+query, nil, &list)
		return len(list) >= n
	})
}

// rssMiB is a process's resident memory.
func rssMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), &kb)
			return kb / 1024
		}
	}
	return 0
}
