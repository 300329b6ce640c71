package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/api"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/patterns"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/store"
	"github.com/parallax/parallax/host/internal/telemetry"
	"github.com/parallax/parallax/sdk/plugin"
)

// Options configure Run.
type Options struct {
	Logger  hclog.Logger
	Version string
	// ShutdownTimeout bounds stopping the agents at shutdown.
	ShutdownTimeout time.Duration
	// Secrets gets every live agent's secrets; give the set whose Writer
	// the Logger writes to, so the log masks them. nil masks only events
	// and replies.
	Secrets *redact.Set
	// KeepAgents leaves the agents and plugins running at shutdown, as
	// server.keep_agents does.
	KeepAgents bool
}

// DiagError carries configuration diagnostics, for printing with their
// place in the file.
type DiagError struct{ Diags hcl.Diagnostics }

func (e *DiagError) Error() string { return e.Diags.Error() }

// Launch starts a runtime plugin binary.
func Launch(ctx context.Context, path string, log hclog.Logger, opts ...plugin.LaunchOption) (runtimes.Plugin, error) {
	c, err := plugin.Launch(ctx, path, log, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the host until ctx ends, then stops every agent it spawned, then
// the plugins.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = agents.DefaultStopTimeout + 5*time.Second
	}
	instance, err := instanceID(cfg.Server.DataDir)
	if err != nil {
		return err
	}

	// Listen first: a busy port is the commonest start-up failure and
	// costs nothing to find before the plugins start.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w (pick another port, or stop what holds it)", err)
	}
	defer ln.Close()

	st, err := store.Open(filepath.Join(cfg.Server.DataDir, storeFile), store.Options{Logger: log.Named("store")})
	if err != nil {
		return err
	}
	defer st.Close()

	rm := runtimes.New(runtimes.Options{Logger: log, HostInstance: instance, DataDir: cfg.Server.DataDir, Launch: Launch})
	bus := events.NewBus()
	bus.SetJournal(st)
	var metrics *telemetry.Metrics
	am := agents.NewManager(log.Named("agents"), rm, agents.Options{
		DataDir: cfg.Server.DataDir, Bus: bus, AgentType: cfg.AgentType,
		AllowedWorkdirs: cfg.Server.AllowedWorkdirs, WarmPool: cfg.WarmPool,
		MaxAgents: cfg.Server.MaxAgents, MaxWatchersPerAgent: cfg.Server.MaxWatchersPerAgent,
		Policy: agents.Policy{NoCommands: !cfg.Server.AllowCommands, EnvAllowlist: cfg.Server.EnvAllowlist}, Secrets: opts.Secrets,
		OnSpawn: func(typ, runtime string, took time.Duration, err error) { metrics.Spawned(typ, runtime, took, err) },
		Store:   st,
	})
	rm.SetListener(am)
	cat, err := newCatalog(cfg, am, "http://"+ln.Addr().String()+"/agent-protocol/")
	if err != nil {
		return err
	}
	metrics = newMetrics(am, rm, cat, bus)
	agentSrv := agentProtocol(am)
	if cfg.Server.AgentListen != "" {
		stop, err := serveAgentGRPC(cfg.Server.AgentListen, agentSrv, log.Named("agent-protocol"))
		if err != nil {
			return err
		}
		defer stop()
	}
	// Stopped by the defer, so after the engine: its last spans go out.
	traceOpts, stopTracing, err := startTracing(ctx, cfg.Telemetry.Tracing, opts.Version, instance, log.Named("tracing"))
	if err != nil {
		return err
	}
	defer stopTracing()
	engine := patterns.New(log.Named("patterns"), cfg.Patterns, cat, patternAgents{am}, bus, append(traceOpts, patterns.WithJournal(st))...)
	if err := engine.EndInterrupted(); err != nil {
		return fmt.Errorf("reading the executions in %s: %w", st.Path(), err)
	}
	monitorCtx, stopMonitor := context.WithCancel(ctx)
	defer stopMonitor()
	monitorAgents(monitorCtx, cfg.Server.HealthInterval, cat, bus, log.Named("catalog"))
	if cfg.Registry != nil {
		stop, err := followRegistry(ctx, cfg.Registry, cat, log.Named("registry"))
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := am.Restore(); err != nil {
		return fmt.Errorf("reading the agents in %s: %w", st.Path(), err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	diags := rm.Start(startCtx, cfg)
	cancel()
	// The runtimes adopted what still runs; the others ended while the
	// host was down, and any other agent's directory is a left-over of a
	// host that was killed, keys and all.
	am.EndUnadopted()
	am.SweepDirs()
	if diags.HasErrors() {
		return &DiagError{diags}
	}
	am.StartPools()
	go sweepHistory(monitorCtx, st, cfg.Server.History, log.Named("store"))

	srv := &http.Server{
		Handler: api.Handler(api.Options{
			Logger: log.Named("api"), Agents: am, Runtimes: rm, Bus: bus, Catalog: cat, Metrics: metrics.Handler(), AgentProtocol: agentSrv, Patterns: cfg.Patterns, Executions: engine, Version: opts.Version,
			Token: cfg.Server.Token, AllowedOrigins: cfg.Server.AllowedOrigins, Hosts: apiHosts(cfg.Server),
			MaxEventSubscribers: cfg.Server.MaxEventSubscribers,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		// A request's body must arrive in ReadTimeout; handlers that then
		// wait longer, and WebSockets, lift the deadline (api.liftReadDeadline).
		ReadTimeout: readTimeout,
		IdleTimeout: cfg.Server.IdleTimeout,
	}
	serving := make(chan error, 1)
	go func() { serving <- srv.Serve(ln) }()
	log.Info("host listening", "addr", ln.Addr().String(), "instance", instance, "runtimes", runtimeNames(rm))

	select {
	case <-ctx.Done():
		log.Info("shutting down: stopping agents, then runtimes")
	case err = <-serving:
		log.Error("API server failed; shutting down", "error", err)
	}

	// Stop taking requests, but let ones in flight (a DELETE, say) finish.
	shutCtx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if opts.KeepAgents || cfg.Server.KeepAgents {
		// Executions are the host's own work: they can't outlive it, and
		// their agents go with them.
		engine.Shutdown()
		am.Detach()
		rm.Detach()
		log.Info("shut down; agents and runtime plugins left running for the next start")
		return served(err)
	}
	// Executions first: they end and stop the agents they spawned.
	engine.Shutdown()
	am.Shutdown(shutCtx)
	rm.Shutdown()
	log.Info("shut down")
	return served(err)
}

// served is the error Run returns for how the API server ended.
func served(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// storeFile is the store's file in the data dir.
const storeFile = "parallax.db"

// sweepHistory removes what is older than the history's retention, now and
// then, until ctx ends.
func sweepHistory(ctx context.Context, st *store.Store, keep time.Duration, log hclog.Logger) {
	every := min(keep/10, time.Hour)
	for {
		n, err := st.Sweep(time.Now().Add(-keep))
		if err != nil {
			log.Warn("sweeping the history failed", "error", err)
		} else if n > 0 {
			log.Info("removed agents older than server.history from the history", "agents", n, "history", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// readTimeout bounds reading a request, body included: bodies are at most
// 1 MiB.
const readTimeout = 30 * time.Second

// apiHosts are the names the API answers to beside IP addresses and
// localhost: server.hosts, and the listen address's name if it has one.
func apiHosts(srv config.Server) []string {
	hosts := srv.Hosts
	if h, _, err := net.SplitHostPort(srv.Listen); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts[:len(hosts):len(hosts)], strings.ToLower(h))
	}
	return hosts
}

func runtimeNames(rm *runtimes.Manager) string {
	var names []string
	for _, s := range rm.Statuses() {
		names = append(names, fmt.Sprintf("%s(priority %d, healthy %t)", s.Name, s.Priority, s.Healthy))
	}
	return strings.Join(names, ", ")
}

// instanceID returns the host's id, kept in the data directory so it stays
// the same across restarts and runtimes can recognise their agents.
func instanceID(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("server.data_dir: %w", err)
	}
	path := filepath.Join(dataDir, "instance-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := "h" + hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server.data_dir: %w", err)
	}
	return id, nil
}
