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
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/runtime/configblock"
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

	// mu guards what Configure sets, once, before it opens agents.
	mu       sync.Mutex
	cfg      Config
	host     string // HostInstance as given
	hostName string // host, safe as a file name
	cg       *cgroups
	state    *stateStore

	agents agenttable.Table[*agent]
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
	return &Runtime{log: log}
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	caps := runtime.Capabilities{Timeout: true}
	// Until Configure probed the machine, claim no limits rather than
	// promise what may not hold.
	if r.agents.Ready() == nil {
		caps.CPULimit, caps.MemoryLimit = r.cg.cpuLimit(), r.cg.memoryLimit()
	}
	return runtime.Info{
		Name:            "local",
		Version:         Version,
		DefaultPriority: 10,
		Capabilities:    caps,
		ConfigSchema:    configblock.Schema(new(Config).attrs()),
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
	if r.agents.Ready() == nil {
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
	r.cfg, r.host, r.hostName, r.cg, r.state = cfg, host, hostName, cg, state
	r.agents.Open()
	r.log.Info("configured", "host_instance", host, "state_dir", state.dir, "cgroups", cg.describe())
	return nil
}

func (r *Runtime) Health(context.Context) (runtime.Health, error) {
	if r.agents.Ready() != nil {
		return runtime.Health{Message: "not configured"}, nil
	}
	return runtime.Health{Healthy: true, Message: r.cg.describe(), ActiveAgents: r.agents.Active()}, nil
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
	if err := r.agents.Ready(); err != nil {
		return runtime.AgentInfo{}, err
	}
	p, err := r.check(spec)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return r.agents.Start(spec.ID, func() (*agent, error) { return r.spawn(spec, p) })
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
	log := r.log.With("agent", spec.ID)
	a := &agent{
		Agent:    agenttable.NewAgent(spec.ID, log),
		name:     name,
		log:      log,
		out:      scrollback.NewRing(r.cfg.ScrollbackBytes),
		marker:   marker(r.host, spec.ID),
		pumpDone: make(chan struct{}),
	}
	a.Labels, a.Env = maps.Clone(spec.Labels), maps.Clone(spec.Env)
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
	a.cg, a.Warnings, a.StartedAt = cg, warnings, time.Now()

	if err := cg.enterLate(a.PID); err != nil {
		a.log.Warn("cannot move agent into its cgroups", "error", err)
		if p.lim.cpuMilli != 0 || p.lim.memBytes != 0 {
			a.Warnings = append(a.Warnings, fmt.Sprintf("resource limits may not be enforced: %v", err))
		}
	}
	for _, w := range a.Warnings {
		a.log.Warn(w)
	}
	rec := record{ID: spec.ID, HostInstance: r.host, PID: a.PID, StartedAt: a.StartedAt, Cgroups: cg.dirs}
	if ps, ok := readProcStat(a.PID); ok {
		rec.PIDStart = ps.startTicks
	}
	if err := r.state.save(name, rec); err != nil {
		a.log.Warn("cannot record agent; a plugin restart won't clean it up", "error", err)
	}
	if t := spec.Resources.Timeout; t > 0 {
		a.armDeadline(a.StartedAt.Add(t), r.cfg.DefaultStopTimeout)
	}
	a.run()
	a.log.Info("agent started", "pid", a.PID, "path", p.path)
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
	a.cmd, a.PID, a.ptmx = cmd, pid, ptmx
	return cg, warnings, nil
}

func (r *Runtime) Attach(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return nil, err
	}
	return a.attach(), nil
}

func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	return r.agents.Stop(id, func(a *agent) error {
		grace := cmp.Or(max(opts.Timeout, 0), r.cfg.DefaultStopTimeout)
		if err := a.terminate(ctx, !opts.Force, grace, "stopped"); err != nil {
			return err
		}
		if err := a.release(ctx); err != nil {
			return err
		}
		if err := r.state.remove(a.name); err != nil {
			a.log.Warn("cannot remove agent record", "error", err)
		}
		return nil
	})
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	return r.agents.Wait(ctx, id)
}

func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.AgentInfo, error) {
	return r.agents.Inspect(id)
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) {
	return r.agents.List()
}

func (r *Runtime) Resize(ctx context.Context, id string, size runtime.Size) error {
	return r.agents.Resize(id, size, func(a *agent) error { return a.resize(size) })
}

// Close runs when the host ends the plugin cleanly. With no agent left it
// removes this instance's state dir and cgroups, so nothing of it stays
// behind; with agents left it keeps their records for the next start to
// clean up, as their PTYs die with this process.
func (r *Runtime) Close(ctx context.Context) error {
	return r.agents.WhileEmpty(func() error {
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
	})
}
