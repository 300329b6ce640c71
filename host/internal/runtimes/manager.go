package runtimes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

// Plugin is a running runtime plugin as the host sees it: the runtime
// contract, every optional feature (a plugin without one answers
// runtime.ErrUnsupported), and control of the plugin process.
type Plugin interface {
	runtime.Runtime
	runtime.Resizer
	runtime.StatsReporter
	runtime.Adopter
	Kill()
	Exited() bool
	// Detach disconnects and leaves the plugin running.
	Detach()
	// ReattachConfig says how to reattach to the plugin; its PID is 0
	// where that can't be done.
	ReattachConfig() plugin.ReattachConfig
}

// LaunchFunc starts the plugin binary at path, as plugin.Launch does with
// opts.
type LaunchFunc func(ctx context.Context, path string, logger hclog.Logger, opts ...plugin.LaunchOption) (Plugin, error)

// ReattachFunc connects to a running plugin, as plugin.Reattach does.
type ReattachFunc func(ctx context.Context, rc plugin.ReattachConfig, logger hclog.Logger) (Plugin, error)

// Launch is the LaunchFunc of real plugin binaries.
func Launch(ctx context.Context, path string, logger hclog.Logger, opts ...plugin.LaunchOption) (Plugin, error) {
	c, err := plugin.Launch(ctx, path, logger, opts...)
	if err != nil {
		return nil, err // not a nil *plugin.Client in a non-nil Plugin
	}
	return c, nil
}

// Reattach is the ReattachFunc of real plugins.
func Reattach(ctx context.Context, rc plugin.ReattachConfig, logger hclog.Logger) (Plugin, error) {
	c, err := plugin.Reattach(ctx, rc, logger)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Options configure a Manager.
type Options struct {
	Logger hclog.Logger
	// HostInstance is handed to every runtime; see runtime.ConfigureRequest.
	HostInstance string
	// DataDir is the host's server.data_dir. Each runtime gets the private
	// directory <DataDir>/runtimes/<name> for its own state; empty gives
	// runtimes none.
	//
	// With a DataDir, plugins outlive the host: each logs to plugin.log
	// and is recorded in plugin.json in that directory, and the next
	// Manager on the same DataDir reattaches to it. Without one, plugins
	// die with the host.
	DataDir string
	// Launch and Reattach default to the functions of those names.
	Launch   LaunchFunc
	Reattach ReattachFunc
	// HealthInterval is how often a runtime's health is checked. A plugin
	// that dies is also noticed at once by the calls that fail on it.
	HealthInterval time.Duration
}

// Manager runs the configured runtime plugins: it starts them, checks their
// health, restarts the ones that die and picks one for each new agent.
type Manager struct {
	opts     Options
	log      hclog.Logger
	listener Listener
	entries  []*entry // sorted by priority, then name
	byName   map[string]*entry
	stop     chan struct{}
	wg       sync.WaitGroup
}

// entry is one configured runtime and its current plugin process.
type entry struct {
	cfg  config.Runtime
	kick chan struct{} // asks the supervisor for a health check now

	mu       sync.Mutex
	plugin   Plugin
	info     runtime.Info
	priority int
	health   runtime.Health
	// checkedAt is when health was last found, by a check or a restart.
	checkedAt time.Time
	restarts  int
	// reattached says plugin was left by an earlier host process, with
	// agents this one may not know yet.
	reattached bool

	// follower forwards the plugin's log file, with a DataDir. Only the
	// goroutine that (re)launches the plugin touches it.
	follower *logFollower
}

// Status is a runtime's state for the API.
type Status struct {
	Name         string       `json:"name"`
	Priority     int          `json:"priority"`
	Healthy      bool         `json:"healthy"`
	Message      string       `json:"message,omitempty"`
	ActiveAgents int          `json:"activeAgents"`
	Version      string       `json:"version,omitempty"`
	Capabilities Capabilities `json:"capabilities"`
	Restarts     int          `json:"restarts"`
	// CheckedAt is when the health above was found: statuses are those of
	// the last periodic check, not of the request.
	CheckedAt time.Time `json:"checkedAt"`
	// Runtime is what the plugin says it is: its own name (the type of
	// runtime, whatever the block calls it) and its running agents.
	Runtime RuntimeInfo `json:"runtime"`
}

// RuntimeInfo is the plugin's side of a Status.
type RuntimeInfo struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	ActiveAgents int    `json:"activeAgents"`
}

// Capabilities is runtime.Capabilities as the API names it.
type Capabilities struct {
	Resize      bool `json:"resize"`
	Stats       bool `json:"stats"`
	Adopt       bool `json:"adopt"`
	CPULimit    bool `json:"cpuLimit"`
	MemoryLimit bool `json:"memoryLimit"`
	Timeout     bool `json:"timeout"`
}

// ErrNoRuntime means no runtime could take an agent.
var ErrNoRuntime = errors.New("no healthy runtime")

// ErrUnknownRuntime means a runtime name is not configured.
var ErrUnknownRuntime = errors.New("unknown runtime")

// New returns a Manager; Start launches its runtimes.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 5 * time.Second
	}
	if opts.Launch == nil {
		opts.Launch = Launch
	}
	if opts.Reattach == nil {
		opts.Reattach = Reattach
	}
	return &Manager{opts: opts, log: opts.Logger, byName: map[string]*entry{}, stop: make(chan struct{})}
}

// Listener hears about runtime plugins that die and agents to adopt.
type Listener interface {
	// RuntimeLost is called when a runtime's plugin died, before it is
	// restarted.
	RuntimeLost(runtimeName, reason string)
	// Adopt is called after a runtime (re)started, with the agents it still
	// runs from before.
	Adopt(runtimeName string, agents []runtime.AgentInfo)
}

// SetListener sets who hears about lost runtimes and agents to adopt. Call
// it before Start.
func (m *Manager) SetListener(l Listener) { m.listener = l }

// Start launches and configures every enabled runtime, or, with a DataDir,
// reattaches to the plugin an earlier host process left running for it.
// Configuration errors come back as diagnostics pointing into the user's
// file; then nothing this Start launched is left running, and the plugins
// it reattached to are left as they were.
func (m *Manager) Start(ctx context.Context, cfg *config.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, rc := range cfg.Runtimes {
		if !rc.Enabled {
			continue
		}
		e := &entry{cfg: rc, kick: make(chan struct{}, 1)}
		// Known by name before it launches: launching adopts the agents
		// the runtime still runs, and adopting looks the runtime up.
		m.byName[rc.Name] = e
		d := m.launch(ctx, e, true)
		diags = append(diags, d...)
		if d.HasErrors() {
			delete(m.byName, rc.Name)
			continue
		}
		m.entries = append(m.entries, e)
	}
	if diags.HasErrors() {
		m.close(func(e *entry) bool { return e.reattached })
		return diags
	}
	m.endStrays(ctx)
	sort.SliceStable(m.entries, func(i, j int) bool {
		if m.entries[i].priority != m.entries[j].priority {
			return m.entries[i].priority < m.entries[j].priority
		}
		return m.entries[i].cfg.Name < m.entries[j].cfg.Name
	})
	for _, e := range m.entries {
		m.wg.Add(1)
		go m.supervise(e)
	}
	return diags
}

// runtimeDataDir creates the private directory a runtime keeps its state
// in. 0700: runtimes put pids and agent records there, which no other user
// may plant or read.
func (m *Manager) runtimeDataDir(name string) (string, error) {
	if m.opts.DataDir == "" {
		return "", nil
	}
	dir := filepath.Join(m.opts.DataDir, "runtimes", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s (under server.data_dir): %w; make server.data_dir writable by this user or point it elsewhere", dir, err)
	}
	return dir, nil
}

// launch starts e's plugin, configures it and adopts what it still runs.
// With reattach, it first tries the plugin an earlier host process left.
func (m *Manager) launch(ctx context.Context, e *entry, reattach bool) hcl.Diagnostics {
	name := e.cfg.Name
	log := m.log.Named("runtime." + name)
	dataDir, err := m.runtimeDataDir(name)
	if err != nil {
		return diagAt(e.cfg, fmt.Sprintf("Runtime %q has no data directory", name), err.Error())
	}
	var (
		p     Plugin
		info  runtime.Info
		diags hcl.Diagnostics
	)
	if reattach && dataDir != "" {
		p, info, diags = m.reattach(ctx, e, dataDir, log)
		if diags.HasErrors() {
			return diags
		}
	}
	reattached := p != nil
	if !reattached {
		if p, info, diags = m.launchNew(ctx, e, dataDir, log); diags.HasErrors() {
			return diags
		}
	}

	var adopted []runtime.AgentInfo
	if info.Capabilities.Adopt {
		if adopted, err = p.Recover(ctx); err != nil {
			// Not fatal: the runtime works, it only lost track of old agents.
			log.Error("recovering agents from an earlier run failed", "error", err)
		}
	}
	health, err := p.Health(ctx)
	if err != nil {
		health = runtime.Health{Message: err.Error()}
	}

	priority := info.DefaultPriority
	if e.cfg.Priority != nil {
		priority = *e.cfg.Priority
	}
	e.mu.Lock()
	e.plugin, e.info, e.priority, e.health, e.checkedAt = p, info, priority, health, time.Now().UTC()
	e.reattached = reattached
	e.mu.Unlock()
	log.Info("runtime started", "version", info.Version, "priority", priority,
		"healthy", health.Healthy, "message", health.Message, "reattached", reattached)
	if m.listener != nil {
		m.listener.Adopt(name, adopted)
	}
	return nil
}

// launchNew launches a new plugin for e and configures it. With a data
// dir, the plugin outlives the host, logs to its file there, and is
// recorded for the next host process.
func (m *Manager) launchNew(ctx context.Context, e *entry, dataDir string, log hclog.Logger) (Plugin, runtime.Info, hcl.Diagnostics) {
	name := e.cfg.Name
	var opts []plugin.LaunchOption
	if dataDir != "" {
		logPath := filepath.Join(dataDir, logFile)
		m.stopFollowing(e)
		if err := rotateLog(logPath); err != nil {
			return nil, runtime.Info{}, diagAt(e.cfg, fmt.Sprintf("Runtime %q has no log file", name), err.Error())
		}
		e.follower = followLog(logPath, log.Named(filepath.Base(e.cfg.PluginPath)))
		opts = append(opts, plugin.WithOutliveHost(logPath))
	}
	p, info, raw, diags := openPlugin(ctx, e.cfg, m.opts.Launch, log, opts...)
	if diags.HasErrors() {
		m.stopFollowing(e)
		return nil, runtime.Info{}, diags
	}
	fail := func(summary string, err error) (Plugin, runtime.Info, hcl.Diagnostics) {
		p.Kill()
		m.forget(e, dataDir, log)
		return nil, runtime.Info{}, diagAt(e.cfg, summary, err.Error())
	}
	// Recorded before Configure: a host that dies during it leaves a
	// plugin the next one finds, and replaces, as it was not configured.
	if err := m.record(e, dataDir, p, ""); err != nil {
		return fail(fmt.Sprintf("Runtime %q can't be recorded", name), err)
	}
	if err := p.Configure(ctx, runtime.ConfigureRequest{HostInstance: m.opts.HostInstance, Config: raw, DataDir: dataDir}); err != nil {
		return fail(fmt.Sprintf("Runtime %q rejected its configuration", name), err)
	}
	if err := m.record(e, dataDir, p, configHash(m.opts.HostInstance, raw)); err != nil {
		return fail(fmt.Sprintf("Runtime %q can't be recorded", name), err)
	}
	// What a runtime can enforce may depend on its configuration and the
	// machine, so ask again now that it is configured.
	if configured, err := p.Describe(ctx); err == nil {
		info.Capabilities = configured.Capabilities
	}
	return p, info, nil
}

// reattach connects to the plugin an earlier host process launched for e,
// if its record names one that still runs the same binary with the same
// configuration. It returns no plugin otherwise, having ended one that
// runs another binary or configuration, and errors only for a config
// block the plugin's schema refuses: the plugin is then left running, as
// it was, for a host with a fixed file.
func (m *Manager) reattach(ctx context.Context, e *entry, dataDir string, log hclog.Logger) (Plugin, runtime.Info, hcl.Diagnostics) {
	recPath := filepath.Join(dataDir, recordFile)
	rec, err := readRecord(recPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, runtime.Info{}, nil
	}
	if err != nil {
		log.Warn("the record of the plugin an earlier host process launched is unreadable; launching a new plugin", "record", recPath, "error", err)
		m.forget(e, dataDir, log)
		return nil, runtime.Info{}, nil
	}
	// Following from where the last host stopped: what the plugin logged
	// while no host was there comes first.
	e.follower = followLog(filepath.Join(dataDir, logFile), log.Named(filepath.Base(e.cfg.PluginPath)))
	p, err := m.opts.Reattach(ctx, rec.Reattach, log)
	if err != nil {
		log.Info("the plugin an earlier host process launched is gone; launching a new one", "error", err)
		m.forget(e, dataDir, log)
		return nil, runtime.Info{}, nil
	}
	replace := func(why string, args ...any) (Plugin, runtime.Info, hcl.Diagnostics) {
		log.Warn(why+"; ending the plugin an earlier host process launched, and the agents it runs may be lost",
			append(args, "pid", rec.Reattach.PID)...)
		p.Kill()
		m.forget(e, dataDir, log)
		return nil, runtime.Info{}, nil
	}
	if rec.PluginPath != e.cfg.PluginPath {
		return replace("the runtime's plugin binary changed", "was", rec.PluginPath, "now", e.cfg.PluginPath)
	}
	info, err := p.Describe(ctx)
	if err != nil {
		return replace("the plugin did not describe itself", "error", err)
	}
	raw, diags := config.DecodeRuntimeConfig(e.cfg, info.ConfigSchema)
	if diags.HasErrors() {
		p.Detach()
		m.stopFollowing(e)
		return nil, runtime.Info{}, diags
	}
	if rec.ConfigHash != configHash(m.opts.HostInstance, raw) {
		return replace("the runtime's configuration changed")
	}
	log.Info("reattached to the plugin an earlier host process launched", "pid", rec.Reattach.PID)
	return p, info, nil
}

// record writes the record of e's plugin p, configured with configHash.
func (m *Manager) record(e *entry, dataDir string, p Plugin, configHash string) error {
	if dataDir == "" {
		return nil
	}
	rc := p.ReattachConfig()
	if rc.PID == 0 {
		return nil // a plugin served in this process, by tests
	}
	return writeRecord(filepath.Join(dataDir, recordFile), record{Reattach: rc, PluginPath: e.cfg.PluginPath, ConfigHash: configHash})
}

// forget removes the record of e's plugin, which is gone or going, and
// stops following its log once its last lines are in.
func (m *Manager) forget(e *entry, dataDir string, log hclog.Logger) {
	m.stopFollowing(e)
	if dataDir == "" {
		return
	}
	if err := removeRecord(filepath.Join(dataDir, recordFile)); err != nil {
		log.Warn("cannot remove the record of a plugin that is gone", "error", err)
	}
}

func (m *Manager) stopFollowing(e *entry) {
	if e.follower != nil {
		e.follower.Stop()
		e.follower = nil
	}
}

// openPlugin launches rc's plugin, asks what it is and decodes rc's config block
// against the schema the plugin declares.
func openPlugin(ctx context.Context, rc config.Runtime, launch LaunchFunc, log hclog.Logger, opts ...plugin.LaunchOption) (Plugin, runtime.Info, []byte, hcl.Diagnostics) {
	p, err := launch(ctx, rc.PluginPath, log, opts...)
	if err != nil {
		return nil, runtime.Info{}, nil, diagAt(rc, fmt.Sprintf("Runtime %q did not start", rc.Name), err.Error())
	}
	info, err := p.Describe(ctx)
	if err != nil {
		p.Kill()
		return nil, runtime.Info{}, nil, diagAt(rc, fmt.Sprintf("Runtime %q did not describe itself", rc.Name), err.Error())
	}
	raw, diags := config.DecodeRuntimeConfig(rc, info.ConfigSchema)
	if diags.HasErrors() {
		p.Kill()
		return nil, runtime.Info{}, nil, diags
	}
	return p, info, raw, diags
}

// endStrays ends the plugins earlier host processes launched for runtimes
// that are no longer enabled: no host would reattach to them.
func (m *Manager) endStrays(ctx context.Context) {
	if m.opts.DataDir == "" {
		return
	}
	dirs, _ := os.ReadDir(filepath.Join(m.opts.DataDir, "runtimes"))
	for _, d := range dirs {
		if _, ok := m.byName[d.Name()]; ok || !d.IsDir() {
			continue
		}
		recPath := filepath.Join(m.opts.DataDir, "runtimes", d.Name(), recordFile)
		rec, err := readRecord(recPath)
		if err != nil {
			continue
		}
		log := m.log.Named("runtime." + d.Name())
		if p, err := m.opts.Reattach(ctx, rec.Reattach, log); err == nil {
			log.Warn("ending the plugin an earlier host process launched for a runtime no longer enabled, with its agents", "pid", rec.Reattach.PID)
			p.Kill()
		}
		_ = removeRecord(recPath)
	}
}

// Check launches each enabled runtime's plugin, decodes its config block
// against the plugin's schema and stops the plugin again. It finds what
// Load can't: mistakes in config {} blocks, and binaries that aren't
// runtime plugins.
func Check(ctx context.Context, cfg *config.Config, launch LaunchFunc, log hclog.Logger) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, rc := range cfg.Runtimes {
		if !rc.Enabled {
			continue
		}
		p, _, _, d := openPlugin(ctx, rc, launch, log.Named("runtime."+rc.Name))
		diags = append(diags, d...)
		if p != nil {
			p.Kill()
		}
	}
	return diags
}

func diagAt(rc config.Runtime, summary, detail string) hcl.Diagnostics {
	rng := rc.DeclRange
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}}
}

// supervise checks e's health until Shutdown and restarts its plugin when it
// dies, backing off while restarts keep failing.
func (m *Manager) supervise(e *entry) {
	defer m.wg.Done()
	ticker := time.NewTicker(m.opts.HealthInterval)
	defer ticker.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-ticker.C:
		case <-e.kick:
		}
		if m.check(e) {
			continue
		}
		m.restart(e)
	}
}

// check refreshes e's health and reports whether its plugin is alive.
func (m *Manager) check(e *entry) bool {
	e.mu.Lock()
	p := e.plugin
	e.mu.Unlock()
	if p == nil || p.Exited() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.HealthInterval)
	defer cancel()
	h, err := p.Health(ctx)
	if err != nil {
		// A plugin that can't be reached is as good as dead, reaped or
		// not: its agents wait on it. It is killed and started again.
		if plugin.IsUnavailable(err) || exitSeen(p, time.Second) {
			return false
		}
		h = runtime.Health{Message: "health check failed: " + err.Error()}
	}
	e.mu.Lock()
	if h.Healthy != e.health.Healthy {
		m.log.Named("runtime."+e.cfg.Name).Info("runtime health changed", "healthy", h.Healthy, "message", h.Message)
	}
	e.health, e.checkedAt = h, time.Now().UTC()
	e.mu.Unlock()
	return true
}

// exitSeen waits up to d for p's exit to be seen. A plugin killed a
// moment ago fails its calls before its process is reaped (under load,
// for seconds); taking it for alive then would leave it dead until the
// next periodic check.
func exitSeen(p Plugin, d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if p.Exited() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func (m *Manager) restart(e *entry) {
	name := e.cfg.Name
	log := m.log.Named("runtime." + name)
	e.mu.Lock()
	old := e.plugin
	e.plugin = nil
	e.health, e.checkedAt = runtime.Health{Message: "plugin exited; restarting"}, time.Now().UTC()
	e.mu.Unlock()
	if old != nil {
		old.Kill()
	}
	reason := fmt.Sprintf("runtime plugin %q exited unexpectedly", name)
	log.Error("runtime plugin exited unexpectedly; restarting it")
	if m.listener != nil {
		m.listener.RuntimeLost(name, reason)
	}

	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		diags := m.launch(ctx, e, false)
		cancel()
		if !diags.HasErrors() {
			e.mu.Lock()
			e.restarts++
			n := e.restarts
			e.mu.Unlock()
			log.Info("runtime plugin restarted", "restarts", n)
			return
		}
		e.mu.Lock()
		e.health, e.checkedAt = runtime.Health{Message: "restart failed: " + diags.Error()}, time.Now().UTC()
		e.mu.Unlock()
		log.Error("restarting runtime plugin failed", "error", diags.Error(), "retry_in", backoff)
		select {
		case <-m.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// Kick asks for an immediate health check of the named runtime, for callers
// that saw a call to it fail in a way that may mean its plugin died.
func (m *Manager) Kick(name string) {
	if e, ok := m.byName[name]; ok {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// Get returns the named runtime's current plugin.
func (m *Manager) Get(name string) (Plugin, error) {
	e, ok := m.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (configured: %s)", ErrUnknownRuntime, name, m.names())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plugin == nil {
		return nil, fmt.Errorf("%w: runtime %q is restarting", ErrNoRuntime, name)
	}
	return e.plugin, nil
}

// Candidate is a runtime that may take a new agent.
type Candidate struct {
	Name   string
	Plugin Plugin
	Info   runtime.Info
}

// Candidates returns the runtimes to try for a new agent, in order: the one
// named, or else every healthy runtime by ascending priority.
func (m *Manager) Candidates(name string) ([]Candidate, error) {
	if name != "" {
		e, ok := m.byName[name]
		if !ok {
			return nil, fmt.Errorf("%w %q (configured: %s)", ErrUnknownRuntime, name, m.names())
		}
		c, ok := e.candidate()
		if !ok {
			return nil, fmt.Errorf("%w: runtime %q is unhealthy: %s", ErrNoRuntime, name, e.message())
		}
		return []Candidate{c}, nil
	}
	var out []Candidate
	for _, e := range m.entries {
		if c, ok := e.candidate(); ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none of %s is healthy", ErrNoRuntime, m.names())
	}
	return out, nil
}

func (e *entry) candidate() (Candidate, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plugin == nil || !e.health.Healthy {
		return Candidate{}, false
	}
	return Candidate{Name: e.cfg.Name, Plugin: e.plugin, Info: e.info}, true
}

func (e *entry) message() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.health.Message
}

func (m *Manager) names() string {
	s := ""
	for i, e := range m.entries {
		if i > 0 {
			s += ", "
		}
		s += e.cfg.Name
	}
	return s
}

// Statuses describes every runtime, in selection order, as the last
// health check found it; it calls no plugin, so callers can't make the
// host hammer its plugins.
func (m *Manager) Statuses() []Status {
	out := make([]Status, 0, len(m.entries))
	for _, e := range m.entries {
		e.mu.Lock()
		out = append(out, Status{
			Name:         e.cfg.Name,
			Priority:     e.priority,
			Healthy:      e.plugin != nil && e.health.Healthy,
			Message:      e.health.Message,
			ActiveAgents: e.health.ActiveAgents,
			Version:      e.info.Version,
			Capabilities: Capabilities(e.info.Capabilities),
			Restarts:     e.restarts,
			CheckedAt:    e.checkedAt,
			Runtime:      RuntimeInfo{Name: e.cfg.Name, Type: e.info.Name, ActiveAgents: e.health.ActiveAgents},
		})
		e.mu.Unlock()
	}
	return out
}

// Shutdown stops supervising and kills every plugin. Agents must be stopped
// before, through the plugins.
func (m *Manager) Shutdown() {
	m.close(func(*entry) bool { return false })
}

// Detach stops supervising and disconnects from every plugin, leaving it
// running with its agents, for the next Manager on the same DataDir to
// reattach to. Without a DataDir plugins die with the host, so Detach is
// Shutdown.
func (m *Manager) Detach() {
	m.close(func(*entry) bool { return m.opts.DataDir != "" })
}

// close stops supervising and ends every plugin: it detaches from those
// detach says, and kills the others.
func (m *Manager) close(detach func(e *entry) bool) {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.wg.Wait()
	for name, e := range m.byName {
		e.mu.Lock()
		p := e.plugin
		e.plugin = nil
		e.mu.Unlock()
		if p != nil && detach(e) {
			p.Detach()
			// The next host goes on from where this one stopped.
			m.stopFollowing(e)
			continue
		}
		if p != nil {
			p.Kill()
		}
		dataDir := ""
		if m.opts.DataDir != "" {
			dataDir = filepath.Join(m.opts.DataDir, "runtimes", name)
		}
		m.forget(e, dataDir, m.log.Named("runtime."+name))
	}
}
