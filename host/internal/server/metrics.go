package server

import (
	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/telemetry"
)

// newMetrics makes the host's Prometheus metrics over its parts, and
// counts replies as the event bus carries them.
func newMetrics(am *agents.Manager, rm *runtimes.Manager, cat *catalog.Catalog, bus *events.Bus) *telemetry.Metrics {
	m := telemetry.New(telemetry.Sources{
		Agents: func() []telemetry.AgentState {
			var out []telemetry.AgentState
			for _, v := range am.Live() {
				out = append(out, telemetry.AgentState{Status: string(v.Status), Type: v.Type, Runtime: v.Runtime})
			}
			return out
		},
		Runtimes: func() []telemetry.RuntimeState {
			var out []telemetry.RuntimeState
			for _, s := range rm.Statuses() {
				out = append(out, telemetry.RuntimeState{Name: s.Name, Healthy: s.Healthy, ActiveAgents: s.ActiveAgents})
			}
			return out
		},
		Catalog: func() map[string]int {
			out := map[string]int{}
			for _, a := range cat.List() {
				out[string(a.Source)]++
			}
			return out
		},
		WarmPool: func() []telemetry.PoolState {
			var out []telemetry.PoolState
			for _, p := range am.PoolStats() {
				out = append(out, telemetry.PoolState{Type: p.Type, Size: p.Size, Ready: p.Ready, Hits: p.Hits, Misses: p.Misses,
					Incompatible: p.Incompatible, Spawned: p.Spawned, SpawnFailed: p.SpawnFailed, Replaced: p.Replaced})
			}
			return out
		},
	})
	sub := bus.Subscribe(256, func(e events.Event) bool { return e.Event == events.Message })
	go func() {
		for range sub.C {
			m.Message()
		}
	}()
	return m
}
