package server

import (
	"fmt"
	"os"
	"time"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/session"
)

// newCatalog makes the catalogue: the managed agents of am, the agents of
// PARALLAX_LOCAL_AGENTS and of the config file, within the catalog block's
// limits. A bad entry in either is a start-up error naming it.
func newCatalog(cfg *config.Config, am *agents.Manager, protocolBase string) (*catalog.Catalog, error) {
	cat := catalog.New(func() []catalog.Agent { return managedAgents(am, protocolBase) })
	limits := catalog.Limits{MaxEntries: cfg.Catalog.MaxEntries, AllowedEndpoints: cfg.Catalog.AllowedEndpoints}
	for _, a := range cfg.Agents {
		limits.Trusted = append(limits.Trusted, a.Endpoint)
	}
	if err := cat.SetLimits(limits); err != nil {
		return nil, err
	}
	local, err := catalog.ParseLocalAgents(os.Getenv(catalog.LocalAgentsEnv))
	if err != nil {
		return nil, err
	}
	for _, a := range local {
		if err := cat.Put(a); err != nil {
			return nil, fmt.Errorf("%s: %w", catalog.LocalAgentsEnv, err)
		}
	}
	for _, a := range cfg.Agents {
		entry := catalog.Agent{ID: a.ID, Name: a.Name, Endpoint: a.Endpoint, Capabilities: a.Capabilities, Metadata: a.Metadata, Source: catalog.SourceConfig}
		if err := cat.Put(entry); err != nil {
			return nil, fmt.Errorf("%s:%d: agent %q: %w", a.DeclRange.Filename, a.DeclRange.Start.Line, a.ID, err)
		}
	}
	return cat, nil
}

// managedAgents shows the agents the host runs as catalogue entries, each
// with its endpoint of the Agent protocol under protocolBase.
func managedAgents(am *agents.Manager, protocolBase string) []catalog.Agent {
	var out []catalog.Agent
	for _, v := range am.Live() {
		// An idle warm pool agent is nobody's worker until a spawn takes it.
		if v.Status == session.StatusStopped || v.Pooled {
			continue
		}
		out = append(out, catalog.Agent{
			ID: v.ID, Name: v.Name, Capabilities: v.Capabilities, Endpoint: protocolBase + v.ID,
			Metadata: map[string]string{"type": v.Type, "role": v.Role, "runtime": v.Runtime},
			Source:   catalog.SourceManaged,
			Healthy:  v.Status == session.StatusReady || v.Status == session.StatusBusy,
			LastSeen: time.Now().UTC(),
		})
	}
	return out
}
