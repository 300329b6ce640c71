// Package telemetry serves the host's Prometheus metrics at /metrics and
// exports its traces over OTLP.
package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AgentState is one managed agent, as the agents gauge counts it.
type AgentState struct{ Status, Type, Runtime string }

// RuntimeState is one runtime's health.
type RuntimeState struct {
	Name         string
	Healthy      bool
	ActiveAgents int
}

// PoolState is the warm pool of one agent type: its size, its idle ready
// agents, and counts since the host started.
type PoolState struct {
	Type                       string
	Size, Ready                int
	Hits, Misses, Incompatible uint64
	Spawned, SpawnFailed       uint64
	Replaced                   uint64
}

// Sources are read at every scrape, so the gauges are never stale.
type Sources struct {
	Agents   func() []AgentState
	Runtimes func() []RuntimeState
	// Catalog counts the catalogue's agents by source.
	Catalog func() map[string]int
	// WarmPool is one entry per agent type that has a warm pool.
	WarmPool func() []PoolState
}

// Metrics is the host's registry: counters fed as things happen, gauges
// read from Sources at scrape time.
type Metrics struct {
	reg          *prometheus.Registry
	spawns       *prometheus.CounterVec
	spawnLatency *prometheus.HistogramVec
	messages     prometheus.Counter
}

// New registers the host's metrics, the Go runtime's and the process's.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		spawns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parallax_spawns_total", Help: "Managed agent spawns, by agent type, runtime and result (ok or failed).",
		}, []string{"type", "runtime", "result"}),
		spawnLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parallax_spawn_duration_seconds",
			Help:    "Time from a spawn request to the agent's process running, for spawns that succeeded.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"type", "runtime"}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parallax_messages_total", Help: "Replies of managed agents to messages sent to them.",
		}),
	}
	m.reg.MustRegister(m.spawns, m.spawnLatency, m.messages, &scrape{src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Spawned records a spawn; runtime is "" when none took the agent.
func (m *Metrics) Spawned(agentType, runtime string, took time.Duration, err error) {
	if err != nil {
		m.spawns.WithLabelValues(agentType, runtime, "failed").Inc()
		return
	}
	m.spawns.WithLabelValues(agentType, runtime, "ok").Inc()
	m.spawnLatency.WithLabelValues(agentType, runtime).Observe(took.Seconds())
}

// Message records a reply.
func (m *Metrics) Message() { m.messages.Inc() }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	agentsDesc         = prometheus.NewDesc("parallax_agents", "Managed agents by status, type and runtime.", []string{"status", "type", "runtime"}, nil)
	runtimeHealthyDesc = prometheus.NewDesc("parallax_runtime_healthy", "1 if the runtime can start agents now.", []string{"runtime"}, nil)
	runtimeActiveDesc  = prometheus.NewDesc("parallax_runtime_active_agents", "Agents running on the runtime, as it reports.", []string{"runtime"}, nil)
	catalogDesc        = prometheus.NewDesc("parallax_catalog_agents", "Agents in the catalogue by source: etcd, env, config, api, managed.", []string{"source"}, nil)

	poolSizeDesc     = prometheus.NewDesc("parallax_warm_pool_size", "Agents the warm pool keeps ready, as configured, by type.", []string{"type"}, nil)
	poolReadyDesc    = prometheus.NewDesc("parallax_warm_pool_ready", "Idle warm pool agents ready to be taken now, by type.", []string{"type"}, nil)
	poolRequestsDesc = prometheus.NewDesc("parallax_warm_pool_requests_total",
		"Spawns of a type that has a warm pool, by result: hit (got a pool agent), miss (the pool could serve it but had none ready) or incompatible (a workdir, env, credentials, command, resources or another runtime).",
		[]string{"type", "result"}, nil)
	poolHitRatioDesc = prometheus.NewDesc("parallax_warm_pool_hit_ratio", "hits / (hits + misses) since the host started, by type; absent before the first.", []string{"type"}, nil)
	poolSpawnsDesc   = prometheus.NewDesc("parallax_warm_pool_spawns_total", "The warm pool's own spawns, by type and result (ok or failed).", []string{"type", "result"}, nil)
	poolReplacedDesc = prometheus.NewDesc("parallax_warm_pool_replaced_total", "Idle warm pool agents stopped and replaced because they exited, failed or waited on a prompt, by type.", []string{"type"}, nil)
)

// scrape reads the gauges from Sources.
type scrape struct{ src Sources }

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- runtimeHealthyDesc
	ch <- runtimeActiveDesc
	ch <- catalogDesc
	ch <- poolSizeDesc
	ch <- poolReadyDesc
	ch <- poolRequestsDesc
	ch <- poolHitRatioDesc
	ch <- poolSpawnsDesc
	ch <- poolReplacedDesc
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	if s.src.Agents != nil {
		counts := map[AgentState]int{}
		for _, a := range s.src.Agents() {
			counts[a]++
		}
		for a, n := range counts {
			ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(n), a.Status, a.Type, a.Runtime)
		}
	}
	if s.src.Runtimes != nil {
		for _, r := range s.src.Runtimes() {
			healthy := 0.0
			if r.Healthy {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(runtimeHealthyDesc, prometheus.GaugeValue, healthy, r.Name)
			ch <- prometheus.MustNewConstMetric(runtimeActiveDesc, prometheus.GaugeValue, float64(r.ActiveAgents), r.Name)
		}
	}
	if s.src.Catalog != nil {
		for source, n := range s.src.Catalog() {
			ch <- prometheus.MustNewConstMetric(catalogDesc, prometheus.GaugeValue, float64(n), source)
		}
	}
	if s.src.WarmPool != nil {
		for _, p := range s.src.WarmPool() {
			collectPool(ch, p)
		}
	}
}

func collectPool(ch chan<- prometheus.Metric, p PoolState) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{p.Type}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{p.Type}, labels...)...)
	}
	gauge(poolSizeDesc, float64(p.Size))
	gauge(poolReadyDesc, float64(p.Ready))
	counter(poolRequestsDesc, p.Hits, "hit")
	counter(poolRequestsDesc, p.Misses, "miss")
	counter(poolRequestsDesc, p.Incompatible, "incompatible")
	if p.Hits+p.Misses > 0 {
		gauge(poolHitRatioDesc, float64(p.Hits)/float64(p.Hits+p.Misses))
	}
	counter(poolSpawnsDesc, p.Spawned, "ok")
	counter(poolSpawnsDesc, p.SpawnFailed, "failed")
	counter(poolReplacedDesc, p.Replaced)
}
