package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/agent/registry"
	"github.com/parallax/parallax/sdk/agent/registry/registrytest"
)

// The host follows agents registered in a real etcd, embedded in this
// test process.
func TestRegistryFollowsEtcd(t *testing.T) {
	cli := registrytest.Start(t)
	config := writeConfigWith(t, "", fmt.Sprintf(`registry "etcd" {
  endpoints = [%q]
}`, cli.Endpoints()[0]))
	h := startHost(t, config)
	ctx := context.Background()

	inCatalog := func(h *host, id string) bool {
		var list []catalogAgent
		h.do("GET", "/api/agents?source=etcd", nil, &list)
		for _, a := range list {
			if a.ID == id {
				return true
			}
		}
		return false
	}
	register := func(id string, ttl time.Duration) (*registry.Registration, func()) {
		agentCli := registrytest.NewClient(t, cli.Endpoints())
		reg, err := registry.Register(ctx, agentCli, registry.DefaultPrefix, registry.Entry{
			ID: id, Endpoint: "http://127.0.0.1:9001", Capabilities: []string{"testing"},
		}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return reg, func() { agentCli.Close() }
	}

	graceful, _ := register("graceful", time.Minute)
	_, crash := register("crashes", 2*time.Second)
	eventually(t, "both registered agents in the catalogue", func() bool { return inCatalog(h, "graceful") && inCatalog(h, "crashes") })

	// Garbage under the prefix is skipped, with a warning in the log.
	if _, err := cli.Put(ctx, registry.Key(registry.DefaultPrefix, "garbage"), "{not json"); err != nil {
		t.Fatal(err)
	}

	// A restarted host lists what is registered.
	h.stop()
	h2 := startHost(t, config)
	eventually(t, "the restarted host's catalogue rebuilt from etcd", func() bool { return inCatalog(h2, "graceful") && inCatalog(h2, "crashes") })
	if inCatalog(h2, "garbage") || !strings.Contains(h2.logs(), "garbage") {
		t.Errorf("the garbage entry: in the catalogue %v; want it skipped with a warning naming it", inCatalog(h2, "garbage"))
	}

	// Graceful: revoked, gone at once. Crashed: gone when its lease ends.
	if err := graceful.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deregistered agent to leave", func() bool { return !inCatalog(h2, "graceful") })
	crash()
	eventually(t, "the crashed agent to leave after its lease", func() bool { return !inCatalog(h2, "crashes") })
}
