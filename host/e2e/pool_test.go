package e2e

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// warmPoolConfig writes a config whose claude is the fake one, marked so
// its processes can be counted, with a warm pool of claude = size and the
// extra blocks.
func warmPoolConfig(t testing.TB, marker string, size int, extra ...string) string {
	return writeConfigWith(t, "", fmt.Sprintf(`agent_type "claude" {
  command = ["/bin/sh", "-c", %s]
}
warm_pool {
  claude = %d
}
%s`, hclString("# "+marker+"\n"+fakeClaude), size, strings.Join(extra, "\n")))
}

// pooledReady returns the ids of the idle pool agents that are ready.
func (h *host) pooledReady() []string {
	var list []agent
	h.do("GET", "/api/managed-agents?pooled=true", nil, &list)
	var ids []string
	for _, a := range list {
		if a.Pooled && a.Status == "ready" {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// A warm pool of two fake claudes is ready after start; a spawn gets one of
// them at once, renamed and no longer pooled, and the pool refills. The
// metrics count the hit, patterns can't pick idle pool agents, and no
// process is left once the host stops.
func TestWarmPool_SpawnTakesAReadyAgentAndThePoolRefills(t *testing.T) {
	marker := fmt.Sprintf("warm-pool-marker-%d", os.Getpid())
	h := startHost(t, warmPoolConfig(t, marker, 2))

	var pooled []string
	eventually(t, "two ready pool agents", func() bool {
		pooled = h.pooledReady()
		return len(pooled) == 2
	})
	var cat []catalogAgent
	h.do("GET", "/api/agents", nil, &cat)
	if len(cat) != 0 {
		t.Errorf("idle pool agents are in the catalogue patterns pick from: %+v", cat)
	}
	var e apiError
	if code := h.do("POST", "/api/managed-agents/"+pooled[0]+"/send", map[string]any{"message": "hi"}, &e); code != http.StatusConflict || !strings.Contains(e.Error, "warm pool") {
		t.Errorf("send to an idle pool agent: %d %+v, want 409 naming the warm pool", code, e)
	}

	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "claude", "name": "from-pool", "capabilities": []string{"testing"}}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d %+v; log:\n%s", code, a, h.logs())
	}
	if !slices.Contains(pooled, a.ID) || a.Pooled || a.Status != "ready" || a.Name != "from-pool" {
		t.Fatalf("spawned %+v; want one of the pool's %v, ready at once, named from-pool, pooled false", a, pooled)
	}
	var reply struct{ Message struct{ Content string } }
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hello", "expectResponse": true, "timeout": 30}, &reply); code != http.StatusOK ||
		!strings.Contains(reply.Message.Content, "reply to: hello") {
		t.Errorf("send to the taken agent: %d %+v", code, reply)
	}
	h.do("GET", "/api/agents", nil, &cat)
	if len(cat) != 1 || cat[0].ID != a.ID || cat[0].Source != "managed" {
		t.Errorf("catalogue %+v; want the taken agent alone, as managed", cat)
	}

	eventually(t, "the pool to refill to two", func() bool {
		ids := h.pooledReady()
		return len(ids) == 2 && !slices.Contains(ids, a.ID)
	})
	_, metrics := h.get("/metrics")
	for _, want := range []string{
		`parallax_warm_pool_requests_total{result="hit",type="claude"} 1`,
		`parallax_warm_pool_requests_total{result="miss",type="claude"} 0`,
		`parallax_warm_pool_hit_ratio{type="claude"} 1`,
		`parallax_warm_pool_ready{type="claude"} 2`,
		`parallax_warm_pool_size{type="claude"} 2`,
		`parallax_warm_pool_spawns_total{result="ok",type="claude"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The runtime runs what the API says: two in the pool, one taken.
	eventually(t, "three fake claude processes", func() bool { return processesWith(marker) == 3 })

	h.stop()
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("host exit code %d; log:\n%s", code, h.logs())
	}
	if n := processesWith(marker); n != 0 {
		t.Errorf("%d fake claude processes survived the host", n)
	}
}

// An org chart's managed roles spawn like any request, so they get the
// pool's agents.
func TestWarmPool_OrgChartStaffsFromThePool(t *testing.T) {
	marker := fmt.Sprintf("warm-pool-orgchart-marker-%d", os.Getpid())
	h := startHost(t, warmPoolConfig(t, marker, 2, `pattern "pair" {
  structure {
    role "engineer" {
      agent_type = "claude"
      managed    = true
      count      = 2
    }
  }
  workflow {
    step "build" {
      role = "engineer"
      task = "Build ${input.feature}"
    }
  }
}`))
	var pooled []string
	eventually(t, "two ready pool agents", func() bool {
		pooled = h.pooledReady()
		return len(pooled) == 2
	})

	var x struct {
		Status string
		Agents []struct{ AgentID, Result string }
	}
	h.runPattern("pair", map[string]string{"feature": "login"}, &x)
	if x.Status != "completed" || len(x.Agents) != 2 {
		t.Fatalf("execution %+v; log:\n%s", x, h.logs())
	}
	for _, a := range x.Agents {
		if !slices.Contains(pooled, a.AgentID) || !strings.Contains(a.Result, "reply to: Build login") {
			t.Errorf("engineer %+v; want one of the pool's %v, replying", a, pooled)
		}
	}
	_, metrics := h.get("/metrics")
	if want := `parallax_warm_pool_requests_total{result="hit",type="claude"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// The execution deleted its agents; the pool is full again.
	eventually(t, "the pool to refill to two", func() bool {
		ids := h.pooledReady()
		return len(ids) == 2 && !slices.Contains(ids, pooled[0]) && !slices.Contains(ids, pooled[1])
	})
}
