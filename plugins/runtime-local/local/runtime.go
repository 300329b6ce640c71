package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/scrollback"
	"golang.org/x/sys/unix"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Env entries the runtime adds to every agent's environment, besides those
// in Spec.Env:
//
//   - PATH, HOME: the plugin's own when Spec.Env has none (PATH falls back
//     to defaultPath, HOME to "/");
//   - TERM=xterm-256color when Spec.Env has no TERM;
//   - PARALLAX_AGENT_ID and PARALLAX_HOST_INSTANCE, always, overriding
//     Spec.Env: they mark the agent's processes where no cgroup can.
//
// Nothing else of the plugin's environment reaches the agent.
const (
	envAgentID      = "PARALLAX_AGENT_ID"
	envHostInstance = "PARALLAX_HOST_INSTANCE"
	defaultPath     = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultTerm     = "xterm-256color"
)

var defaultSize = runtime.Size{Cols: 80, Rows: 24}

// Runtime runs agents as local processes on a PTY.
type Runtime struct {
	log hclog.Logger

	mu         sync.Mutex
	configured bool
	cfg        Config
	host       string // HostInstance as given
	hostName   string // host, safe as a file name
	cg         *cgroups
	state      *stateStore
	// agents by id; a nil entry is an id reserved by a Start in progress.
	agents map[string]*agent

	// recovering keeps Starts out while Recover sweeps leftover cgroups,
	// which would otherwise include a just-started agent's.
	recovering sync.RWMutex
}

var (
	_ runtime.Runtime       = (*Runtime)(nil)
	_ runtime.Resizer       = (*Runtime)(nil)
	_ runtime.StatsReporter = (*Runtime)(nil)
	_ runtime.Adopter       = (*Runtime)(nil)
	_ runtime.Closer        = (*Runtime)(nil)
)

// New returns an unconfigured runtime that logs to log.
func New(log hclog.Logger) *Runtime {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runtime{log: log, agents: make(map[string]*agent)}
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	caps := runtime.Capabilities{Timeout: true}
	// Until Configure probed the machine, claim no limits rather than
	// promise what may not hold.
	if r.configured {
		caps.CPULimit, caps.MemoryLimit = r.cg.cpuLimit(), r.cg.memoryLimit()
	}
	return runtime.Info{
		Name:            "local",
		Version:         Version,
		DefaultPriority: 10,
		Capabilities:    caps,
		ConfigSchema:    slices.Clone(configSchema),
	}, nil
}

func (r *Runtime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return err
	}
	host := req.HostInstance
	if host == "" {
		host = "default"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.configured {
		return errors.New("runtime already configured")
	}
	hostName := fsName(host)
	stateDir, source := cfg.stateDir(req.DataDir)
	state, err := openStateStore(stateDir, hostName)
	if err != nil {
		return fmt.Errorf("%w: state dir from %s: %v", runtime.ErrInvalidSpec, source, err)
	}
	cg := &cgroups{log: r.log, v2Limits: map[string]bool{}, v1: map[string]string{}}
	if cfg.Cgroups == cgroupsAuto {
		cg = probeCgroups(r.log, hostName)
	}
	startReaper(r.log)
	r.cfg, r.host, r.hostName, r.cg, r.state, r.configured = cfg, host, hostName, cg, state, true
	r.log.Info("configured", "host_instance", host, "state_dir", state.dir, "cgroups", cg.describe())
	return nil
}

func (r *Runtime) Health(context.Context) (runtime.Health, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return runtime.Health{Message: "not configured"}, nil
	}
	active := 0
	for _, a := range r.agents {
		if a != nil && !a.hasExited() {
			active++
		}
	}
	return runtime.Health{Healthy: true, Message: r.cg.describe(), ActiveAgents: active}, nil
}

// plan is a checked Spec, ready to run.
type plan struct {
	argv []string
	path string
	env  []string
	dir  string
	size runtime.Size
	lim  limits
}

func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	if err := r.ready(); err != nil {
		return runtime.AgentInfo{}, err
	}
	p, err := r.check(spec)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	r.recovering.RLock()
	defer r.recovering.RUnlock()
	r.mu.Lock()
	if _, ok := r.agents[spec.ID]; ok {
		r.mu.Unlock()
		return runtime.AgentInfo{}, fmt.Errorf("%w: %q", runtime.ErrAlreadyExists, spec.ID)
	}
	r.agents[spec.ID] = nil
	r.mu.Unlock()

	a, err := r.spawn(spec, p)
	r.mu.Lock()
	if err != nil {
		delete(r.agents, spec.ID)
	} else {
		r.agents[spec.ID] = a
	}
	r.mu.Unlock()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info(), nil
}

// check validates a spec and works out what to run.
func (r *Runtime) check(spec runtime.Spec) (plan, error) {
	invalid := func(format string, args ...any) (plan, error) {
		return plan{}, fmt.Errorf("%w: "+format, append([]any{runtime.ErrInvalidSpec}, args...)...)
	}
	if spec.ID == "" || strings.ContainsRune(spec.ID, 0) {
		return invalid("agent id %q: give a non-empty id without NUL bytes", spec.ID)
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return invalid("argv is empty: give the command to run")
	}
	p := plan{argv: slices.Clone(spec.Argv)}
	var err error
	if p.lim.cpuMilli, err = runtime.ParseCPU(spec.Resources.CPU); err != nil {
		return invalid("resources: %v", err)
	}
	if p.lim.memBytes, err = runtime.ParseMemory(spec.Resources.Memory); err != nil {
		return invalid("resources: %v", err)
	}
	p.lim.cpu, p.lim.mem = strings.TrimSpace(spec.Resources.CPU), strings.TrimSpace(spec.Resources.Memory)
	if spec.Resources.Timeout < 0 {
		return invalid("resources: timeout %v is negative", spec.Resources.Timeout)
	}

	env, err := buildEnv(spec.Env, r.host, spec.ID)
	if err != nil {
		return invalid("%v", err)
	}
	p.env = env
	p.dir = spec.Workdir
	if p.dir == "" {
		p.dir = envValue(env, "HOME")
		if fi, err := os.Stat(p.dir); err != nil || !fi.IsDir() {
			p.dir = "/"
		}
	} else if !filepath.IsAbs(p.dir) {
		return invalid("workdir %q is not an absolute path", p.dir)
	} else if fi, err := os.Stat(p.dir); err != nil || !fi.IsDir() {
		return invalid("workdir %q does not exist or is not a directory", p.dir)
	}
	if p.path, err = lookPath(spec.Argv[0], envValue(env, "PATH"), p.dir); err != nil {
		return invalid("%v", err)
	}
	p.size = spec.Size
	if p.size.Cols == 0 {
		p.size.Cols = defaultSize.Cols
	}
	if p.size.Rows == 0 {
		p.size.Rows = defaultSize.Rows
	}
	return p, nil
}

// buildEnv is Spec.Env plus the entries documented at envAgentID.
func buildEnv(specEnv map[string]string, host, id string) ([]string, error) {
	env := make(map[string]string, len(specEnv)+5)
	for k, v := range specEnv {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("env %q: names must be non-empty without '=' or NUL, values without NUL", k)
		}
		env[k] = v
	}
	setDefault := func(k, v string) {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	setDefault("PATH", cmp.Or(os.Getenv("PATH"), defaultPath))
	setDefault("HOME", cmp.Or(os.Getenv("HOME"), "/"))
	setDefault("TERM", defaultTerm)
	env[envAgentID] = id
	env[envHostInstance] = host
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

func envValue(env []string, key string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, key+"="); ok {
			return v
		}
	}
	return ""
}

func marker(host, id string) []string {
	return []string{envAgentID + "=" + id, envHostInstance + "=" + host}
}

// lookPath finds the program as the agent's shell would: through the
// agent's PATH, relative names against its workdir.
func lookPath(file, path, dir string) (string, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if strings.Contains(file, "/") {
		if p := abs(file); isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("command %q not found or not executable", file)
	}
	for _, d := range filepath.SplitList(path) {
		if p := filepath.Join(abs(cmp.Or(d, ".")), file); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q; install it or give its full path", file, path)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// spawn starts the process. Everything slow (polling, waiting) is left to
// the agent's goroutines, so Start costs little more than a fork and exec.
func (r *Runtime) spawn(spec runtime.Spec, p plan) (*agent, error) {
	name := fsName(spec.ID)
	a := &agent{
		id:       spec.ID,
		name:     name,
		log:      r.log.With("agent", spec.ID),
		out:      scrollback.NewRing(r.cfg.ScrollbackBytes),
		marker:   marker(r.host, spec.ID),
		labels:   maps.Clone(spec.Labels),
		exited:   make(chan struct{}),
		pumpDone: make(chan struct{}),
		drained:  make(chan struct{}),
	}
	clone := !r.cg.cloneBroken.Load()
	cg, warnings, err := r.startProcess(a, p, name, clone)
	if err != nil && clone && r.cg.v2 != "" {
		// Cloning into a cgroup can fail where a delegation is partial;
		// if a plain start works, track agents another way from now on.
		var err2 error
		cg, warnings, err2 = r.startProcess(a, p, name, false)
		if err2 == nil {
			r.cg.cloneBroken.Store(true)
			r.log.Warn("cannot start processes in a cgroup2 directory; tracking agents another way", "error", err)
		}
		err = err2
	}
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Argv[0], err)
	}
	a.cg, a.warnings, a.startedAt = cg, warnings, time.Now()

	if err := cg.enterLate(a.pid); err != nil {
		a.log.Warn("cannot move agent into its cgroups", "error", err)
		if p.lim.cpuMilli != 0 || p.lim.memBytes != 0 {
			a.warnings = append(a.warnings, fmt.Sprintf("resource limits may not be enforced: %v", err))
		}
	}
	for _, w := range a.warnings {
		a.log.Warn(w)
	}
	rec := record{ID: spec.ID, HostInstance: r.host, PID: a.pid, StartedAt: a.startedAt, Cgroups: cg.dirs}
	if ps, ok := readProcStat(a.pid); ok {
		rec.PIDStart = ps.startTicks
	}
	if err := r.state.save(name, rec); err != nil {
		a.log.Warn("cannot record agent; a plugin restart won't clean it up", "error", err)
	}
	if t := spec.Resources.Timeout; t > 0 {
		grace := r.cfg.DefaultStopTimeout
		a.timer = time.AfterFunc(t, func() {
			a.log.Info("agent reached its timeout; stopping it", "timeout", t)
			if err := a.terminate(context.Background(), true, grace, "timeout"); err != nil {
				a.log.Error("cannot stop agent at its timeout", "error", err)
			}
		})
	}
	a.run()
	a.log.Info("agent started", "pid", a.pid, "path", p.path)
	return a, nil
}

// startProcess makes the agent's cgroups and PTY and starts the process in
// its own session with the PTY as controlling terminal.
func (r *Runtime) startProcess(a *agent, p plan, name string, clone bool) (*agentCgroup, []string, error) {
	cg, warnings := r.cg.create(name, p.lim, clone)
	fail := func(err error) (*agentCgroup, []string, error) {
		if rmErr := cg.remove(context.Background()); rmErr != nil {
			r.log.Warn("cannot remove cgroup", "error", rmErr)
		}
		return nil, nil, err
	}
	fd, err := cg.openClone()
	if err != nil {
		return fail(err)
	}
	if fd >= 0 {
		defer unix.Close(fd)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		return fail(err)
	}
	defer tty.Close()
	if sc, err := ptmx.SyscallConn(); err == nil {
		_ = setWinsize(sc, p.size)
	}
	cmd := &exec.Cmd{
		Path: p.path, Args: p.argv, Env: p.env, Dir: p.dir,
		Stdin: tty, Stdout: tty, Stderr: tty,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, UseCgroupFD: fd >= 0, CgroupFD: fd},
	}
	pid, err := spawnMain(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		_ = ptmx.Close()
		return fail(err)
	}
	a.cmd, a.pid, a.ptmx = cmd, pid, ptmx
	return cg, warnings, nil
}

func (r *Runtime) Attach(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.get(id)
	if err != nil {
		return nil, err
	}
	return a.attach(), nil
}

func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	grace := opts.Timeout
	if grace <= 0 {
		grace = r.cfg.DefaultStopTimeout
	}
	if err := a.terminate(ctx, !opts.Force, grace, "stopped"); err != nil {
		return fmt.Errorf("stop %q: %w", id, err)
	}
	if err := a.release(ctx); err != nil {
		return fmt.Errorf("stop %q: %w", id, err)
	}
	if err := r.state.remove(a.name); err != nil {
		a.log.Warn("cannot remove agent record", "error", err)
	}
	r.mu.Lock()
	if r.agents[id] == a {
		delete(r.agents, id)
	}
	r.mu.Unlock()
	a.log.Info("agent stopped")
	return nil
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	select {
	case <-a.exited:
		return *a.info().Exit, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.AgentInfo, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info(), nil
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	agents := make([]*agent, 0, len(r.agents))
	for _, a := range r.agents {
		if a != nil {
			agents = append(agents, a)
		}
	}
	r.mu.Unlock()
	infos := make([]runtime.AgentInfo, 0, len(agents))
	for _, a := range agents {
		infos = append(infos, a.info())
	}
	slices.SortFunc(infos, func(x, y runtime.AgentInfo) int {
		return cmp.Or(x.StartedAt.Compare(y.StartedAt), strings.Compare(x.ID, y.ID))
	})
	return infos, nil
}

func (r *Runtime) Resize(ctx context.Context, id string, size runtime.Size) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	if size.Cols == 0 || size.Rows == 0 {
		return fmt.Errorf("%w: size %dx%d: columns and rows must be positive", runtime.ErrInvalidSpec, size.Cols, size.Rows)
	}
	return a.resize(size)
}

func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	return a.stats(), nil
}

// Recover kills whatever an earlier plugin process of this host instance
// left running, as far as confirm vouches for it, and removes the empty
// cgroups other host instances left behind. Its agents can't be adopted,
// because their PTY masters died with it, so the list is always empty.
func (r *Runtime) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	r.recovering.Lock()
	defer r.recovering.Unlock()
	r.mu.Lock()
	live := make(map[string]bool, len(r.agents))
	for id := range r.agents {
		live[fsName(id)] = true
	}
	r.mu.Unlock()

	recs, err := r.state.load()
	if err != nil {
		return nil, fmt.Errorf("read agent records: %w", err)
	}
	var errs []error
	for name, rec := range recs {
		if live[name] {
			continue
		}
		c := r.confirm(name, rec)
		if c.refused != "" {
			r.log.Warn("refused agent record: it names a process this runtime can't confirm as its agent's; "+
				"the process is left alone and the record removed",
				"record", r.state.path(name), "agent", rec.ID, "pid", rec.PID, "reason", c.refused)
		} else {
			r.log.Info("cleaning up agent left by an earlier plugin process", "agent", rec.ID, "pid", rec.PID)
			if err := r.cleanupLeftover(ctx, rec, c); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := r.state.remove(name); err != nil {
			errs = append(errs, err)
		}
	}
	// Cgroups whose record was never written: the plugin died mid-Start.
	for _, dir := range r.cg.leftoverDirs(live) {
		r.log.Info("removing cgroup left by an earlier plugin process", "dir", dir)
		if err := killCgroup(ctx, dir); err != nil {
			errs = append(errs, err)
		} else if err := removeCgroup(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range r.cg.sweepOtherInstances(r.hostName) {
		r.log.Debug("removed empty cgroup of another host instance", "dir", dir)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("clean up after an earlier plugin process: %w", err)
	}
	return []runtime.AgentInfo{}, nil
}

// confirmed is what Recover may act on for one record: nothing, with the
// reason, or the processes the runtime's own bookkeeping vouches for.
type confirmed struct {
	refused string
	// cgroups are the record's cgroups that are this instance's own.
	cgroups []string
	// mainPid is the record's pid when confirmed as the agent's main
	// process; only then are its session and group killed.
	mainPid int
	// marked says the processes carrying the agent's env marker may be
	// killed, one by one.
	marked bool
}

// confirm checks a record against what the runtime itself controls: the
// agent's own cgroups under parallax/<instance>, and the env marker it puts
// on every agent together with the pid's start time. The state dir is
// private, so a record that fails here is stale or corrupt, or was planted
// before the dir was checked; either way no process it names is touched.
func (r *Runtime) confirm(name string, rec record) confirmed {
	var c confirmed
	switch {
	case rec.ID == "":
		return confirmed{refused: "the record is unreadable"}
	case fsName(rec.ID) != name:
		return confirmed{refused: fmt.Sprintf("the record's file is named %q, not after its agent id %q", name, rec.ID)}
	case rec.HostInstance != r.host:
		return confirmed{refused: fmt.Sprintf("the record is of host instance %q, not %q", rec.HostInstance, r.host)}
	}
	populated := false
	for _, dir := range rec.Cgroups {
		if !slices.Contains(r.cg.bases(), filepath.Dir(dir)) || filepath.Base(dir) != name {
			continue // a record only ever names our own cgroups; don't trust it further
		}
		c.cgroups = append(c.cgroups, dir)
		populated = populated || !cgroupTreeEmpty(dir)
	}
	p, alive := readProcStat(rec.PID)
	alive = alive && rec.PID > 0 && p.alive()
	if alive && p.startTicks == rec.PIDStart {
		for _, dir := range c.cgroups {
			if slices.Contains(readPids(filepath.Join(dir, "cgroup.procs")), rec.PID) {
				c.mainPid = rec.PID
			}
		}
		if hasEnv(rec.PID, marker(r.host, rec.ID)...) {
			c.mainPid = rec.PID
		}
	}
	switch {
	case c.mainPid != 0 || populated:
		c.marked = true
	case alive:
		// Ours would be in its cgroup or carry the marker.
		c.refused = fmt.Sprintf("pid %d is neither in the agent's cgroup nor carries its env marker with the recorded start time", rec.PID)
	default:
		// The main process is gone; what it left carries the marker.
		c.marked = true
	}
	return c
}

// cleanupLeftover kills one agent of an earlier plugin process, as far as
// confirm vouched for it: through its cgroups, and through its env marker
// and (with a confirmed main process) its session for what is outside them.
func (r *Runtime) cleanupLeftover(ctx context.Context, rec record, c confirmed) error {
	for _, dir := range c.cgroups {
		if err := killCgroup(ctx, dir); err != nil {
			return err
		}
		if err := removeCgroup(ctx, dir); err != nil {
			return err
		}
	}
	if !c.marked {
		return nil
	}
	return killMarked(ctx, marker(r.host, rec.ID), func() int { return c.mainPid })
}

// Close runs when the host ends the plugin cleanly. With no agent left it
// removes this instance's state dir and cgroups, so nothing of it stays
// behind; with agents left it keeps their records for the next start to
// clean up, as their PTYs die with this process.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured || len(r.agents) > 0 {
		return nil
	}
	// No Start can begin now: they all reserve their id under r.mu first.
	var errs []error
	if recs, err := r.state.load(); err == nil && len(recs) > 0 {
		r.log.Info("keeping agent records of an earlier plugin process for the next start", "dir", r.state.dir)
	} else if err := r.state.removeAll(); err != nil {
		errs = append(errs, fmt.Errorf("remove state dir: %w", err))
	}
	if err := r.cg.removeOwn(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ready reports ErrNotConfigured before Configure.
func (r *Runtime) ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return runtime.ErrNotConfigured
	}
	return nil
}

func (r *Runtime) get(id string) (*agent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return nil, runtime.ErrNotConfigured
	}
	a := r.agents[id]
	if a == nil {
		return nil, fmt.Errorf("%w: %q", runtime.ErrNotFound, id)
	}
	return a, nil
}
