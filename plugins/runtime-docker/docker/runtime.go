package docker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/runtime/configblock"
)

// Version is the plugin's version.
const Version = "0.1.0"

const (
	// workspace is where an agent's workdir is mounted in its container.
	workspace = "/workspace"
	// typeLabel is the label the host puts the agent type in; it picks the
	// image when the spec carries no image hint.
	typeLabel   = "parallax.type"
	defaultTerm = "xterm-256color"
	// minMemory is the smallest limit the engine accepts; we refuse less
	// ourselves so the error names the field.
	minMemory = 6 << 20
	// detachKeys replaces the engine's default ctrl-p,ctrl-q, which would
	// swallow those keys on their way to the agent (and detach us). The
	// engine can't turn detaching off, so we pick a sequence nobody types.
	// The engine holds back a byte that starts the sequence until the next
	// one shows it doesn't, so the first is the rarest key: ctrl-^.
	detachKeys = "ctrl-^,ctrl-@,ctrl-^,ctrl-@,ctrl-^"
)

var defaultSize = runtime.Size{Cols: 80, Rows: 24}

// Runtime runs agents in containers on a Docker engine.
type Runtime struct {
	log hclog.Logger

	// mu guards what Configure sets, once, before it opens agents.
	mu   sync.Mutex
	cfg  Config
	host string // HostInstance as given
	cli  *client.Client

	agents agenttable.Table[*agent]
}

var (
	_ runtime.Runtime       = (*Runtime)(nil)
	_ runtime.Resizer       = (*Runtime)(nil)
	_ runtime.StatsReporter = (*Runtime)(nil)
	_ runtime.Adopter       = (*Runtime)(nil)
)

// New returns an unconfigured runtime that logs to log.
func New(log hclog.Logger) *Runtime {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runtime{log: log}
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "docker",
		Version:         Version,
		DefaultPriority: 20,
		// The engine enforces limits with cgroups. Where the kernel can't,
		// it says so when the container is created, and those warnings
		// reach the agent's Warnings.
		Capabilities: runtime.Capabilities{CPULimit: true, MemoryLimit: true, Timeout: true},
		ConfigSchema: configblock.Schema(new(Config).attrs()),
		AgentPaths:   runtime.AgentPaths{Home: agentHome, Workdir: workspace},
	}, nil
}

// Configure decodes the config and makes the engine client. It doesn't
// contact the engine: one that is down makes the runtime unhealthy, not
// misconfigured, so the host can fall through to other runtimes and use
// this one once the engine is up.
func (r *Runtime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return err
	}
	opts := []client.Opt{client.FromEnv, client.WithUserAgent("parallax-runtime-docker/" + Version)}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return fmt.Errorf("%w: config attribute \"host\": %v; give an address like \"unix:///var/run/docker.sock\"",
			runtime.ErrInvalidSpec, err)
	}
	host := cmp.Or(req.HostInstance, "default")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.agents.Ready() == nil {
		_ = cli.Close()
		return errors.New("runtime already configured")
	}
	r.cfg, r.host, r.cli = cfg, host, cli
	r.agents.Open()
	r.log.Info("configured", "host_instance", host, "engine", cli.DaemonHost(), "network", cfg.Network,
		"pull_policy", cfg.PullPolicy)
	return nil
}

// Health pings the engine; the message says how to fix it when it fails.
func (r *Runtime) Health(ctx context.Context) (runtime.Health, error) {
	cfg, cli, err := r.ready()
	if err != nil {
		return runtime.Health{Message: "not configured"}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ping, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return runtime.Health{Message: engineDown(cli.DaemonHost(), cfg, err)}, nil
	}
	return runtime.Health{
		Healthy:      true,
		Message:      fmt.Sprintf("Docker engine at %s, API %s, network %q", cli.DaemonHost(), ping.APIVersion, cfg.Network),
		ActiveAgents: r.agents.Active(),
	}, nil
}

// engineDown says why the engine can't be reached and what to do.
func engineDown(addr string, cfg Config, err error) string {
	fix := "start it (dockerd, or systemctl start docker)"
	if cfg.Host == "" {
		fix += `, or point config attribute "host" at it`
	}
	if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
		fix = "run the host as a user who may use the socket (one in the docker group), or point config attribute \"host\" elsewhere"
	}
	return fmt.Sprintf("Docker engine at %s is not reachable: %v; %s", addr, err, fix)
}

// plan is a checked Spec, ready to become a container.
type plan struct {
	name    string // the container's name
	image   string
	create  client.ContainerCreateOptions
	size    runtime.Size
	timeout time.Duration
}

func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	cfg, cli, err := r.ready()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	p, err := r.check(cfg, spec)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return r.agents.Start(spec.ID, func() (*agent, error) { return r.launch(ctx, cli, cfg, spec, p) })
}

// check validates a spec and works out the container to create. Every
// error names what is wrong in the spec and wraps runtime.ErrInvalidSpec.
func (r *Runtime) check(cfg Config, spec runtime.Spec) (plan, error) {
	invalid := func(format string, args ...any) (plan, error) {
		return plan{}, fmt.Errorf("%w: "+format, append([]any{runtime.ErrInvalidSpec}, args...)...)
	}
	if spec.ID == "" || strings.ContainsRune(spec.ID, 0) {
		return invalid("agent id %q: give a non-empty id without NUL bytes", spec.ID)
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return invalid("argv is empty: give the command to run")
	}
	res, err := resources(cfg, spec.Resources)
	if err != nil {
		return invalid("%v", err)
	}
	env, err := buildEnv(spec.Env)
	if err != nil {
		return invalid("%v", err)
	}
	var mounts []mount.Mount
	workdir := ""
	if spec.Workdir != "" {
		src, err := allowedWorkdir(spec.Workdir, cfg.WorkdirRoots)
		if err != nil {
			return invalid("workdir %v", err)
		}
		mounts = []mount.Mount{{Type: mount.TypeBind, Source: src, Target: workspace}}
		workdir = workspace
	}
	if spec.Home != "" {
		if err := checkHome(spec.Home); err != nil {
			return invalid("%v", err)
		}
	}
	p := plan{
		name:    containerName(r.host, spec.ID),
		image:   cfg.imageFor(spec.Image, spec.Labels[typeLabel]),
		size:    spec.Size,
		timeout: spec.Resources.Timeout,
	}
	if p.image == "" {
		return invalid("no image for agent type %q: set config attribute images = { %s = \"...\" } or default_image",
			spec.Labels[typeLabel], cmp.Or(spec.Labels[typeLabel], "<type>"))
	}
	if p.timeout < 0 {
		return invalid("resources: timeout %v is negative", p.timeout)
	}
	if p.size.Cols == 0 {
		p.size.Cols = defaultSize.Cols
	}
	if p.size.Rows == 0 {
		p.size.Rows = defaultSize.Rows
	}
	labels := containerLabels(cfg, r.host, spec)
	withInit := true
	p.create = client.ContainerCreateOptions{
		Name: p.name,
		Config: &container.Config{
			Image: p.image,
			// The argv is the whole command: the image's entrypoint and
			// command are replaced, not prefixed.
			Entrypoint: spec.Argv[:1],
			Cmd:        slices.Clone(spec.Argv[1:]),
			Env:        env,
			WorkingDir: workdir,
			User:       cfg.User,
			Labels:     labels,
			Tty:        true,
			OpenStdin:  true,
			// Attached before start, so the first byte of output is ours.
			AttachStdin: true, AttachStdout: true, AttachStderr: true,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(cfg.Network),
			// An init as PID 1 (the engine's docker-init) passes signals on
			// and reaps orphans. A shell or CLI as PID 1 would ignore
			// SIGTERM unless it traps it, as the kernel spares PID 1 the
			// default action of signals.
			Init:      &withInit,
			Mounts:    mounts,
			Resources: res,
			// Engines from API 1.42 start the TTY at this size; older ones
			// ignore it, which is why launch resizes after the start too.
			ConsoleSize: [2]uint{uint(p.size.Rows), uint(p.size.Cols)},
			// We keep the output ourselves; the engine's copy only serves
			// `docker logs` while the container lives, so bound it.
			LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "1"}},
			// An autonomous agent must not become root through a setuid
			// binary in its image.
			SecurityOpt: []string{"no-new-privileges"},
		},
	}
	return p, nil
}

// resources turns the spec's limits, or the config's defaults, into the
// engine's.
func resources(cfg Config, res runtime.Resources) (container.Resources, error) {
	var out container.Resources
	cpu := cmp.Or(strings.TrimSpace(res.CPU), cfg.DefaultCPU)
	milli, err := runtime.ParseCPU(cpu)
	if err != nil {
		return out, fmt.Errorf("resources: %v", err)
	}
	out.NanoCPUs = milli * 1e6
	mem := cmp.Or(strings.TrimSpace(res.Memory), cfg.DefaultMemory)
	bytes, err := runtime.ParseMemory(mem)
	if err != nil {
		return out, fmt.Errorf("resources: %v", err)
	}
	if bytes != 0 && bytes < minMemory {
		return out, fmt.Errorf("resources: memory %q is below the engine's minimum of 6Mi; give at least \"6Mi\"", mem)
	}
	// Swap equal to memory means no swap at all: an agent over its limit
	// is stopped, not slowed to a crawl.
	out.Memory, out.MemorySwap = bytes, bytes
	if cfg.PidsLimit > 0 {
		limit := cfg.PidsLimit
		out.PidsLimit = &limit
	}
	return out, nil
}

// buildEnv is Spec.Env, plus TERM when it has none, as KEY=value entries.
// Credentials arrive here too: they become the container's env, never
// labels, which anyone listing containers can read.
func buildEnv(specEnv map[string]string) ([]string, error) {
	env := maps.Clone(specEnv)
	if env == nil {
		env = map[string]string{}
	}
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("env %q: names must be non-empty without '=' or NUL, values without NUL", k)
		}
	}
	if _, ok := env["TERM"]; !ok {
		env["TERM"] = defaultTerm
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

// allowedWorkdir checks that dir may be mounted and returns the real path
// to mount. Symlinks are resolved first, so one can't lead out of a root.
func allowedWorkdir(dir string, roots []string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%q is not an absolute path", dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%q does not exist: %v", dir, err)
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%q is not a directory", dir)
	}
	if len(roots) == 0 {
		return "", fmt.Errorf("%q can't be mounted: config attribute \"workdir_roots\" is empty; add %q or a parent of it",
			dir, dir)
	}
	for _, root := range roots {
		rootReal, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(rootReal, real)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return real, nil
		}
	}
	return "", fmt.Errorf("%q is outside config attribute \"workdir_roots\" (%s); use a directory under one of them or add its parent",
		dir, strings.Join(roots, ", "))
}

// launch creates, attaches and starts the container. The order matters:
// attached before the start, no output is lost, and waited on before the
// start, no exit is missed.
func (r *Runtime) launch(ctx context.Context, cli *client.Client, cfg Config, spec runtime.Spec, p plan) (*agent, error) {
	if err := ensureImage(ctx, cli, cfg.PullPolicy, p.image, r.log); err != nil {
		return nil, err
	}
	var deadline time.Time
	if p.timeout > 0 {
		deadline = time.Now().Add(p.timeout)
		p.create.Config.Labels[labelDeadline] = deadline.UTC().Format(time.RFC3339Nano)
	}
	created, err := cli.ContainerCreate(ctx, p.create)
	switch {
	case cerrdefs.IsConflict(err):
		return nil, fmt.Errorf("%w: %q: container %s exists already", runtime.ErrAlreadyExists, spec.ID, p.name)
	case cerrdefs.IsInvalidArgument(err):
		return nil, fmt.Errorf("%w: the engine refused the container: %v", runtime.ErrInvalidSpec, err)
	case err != nil:
		return nil, fmt.Errorf("create container for %q: %w", spec.ID, err)
	}
	a := newAgent(r.log, cli, spec.ID, created.ID, cfg.ScrollbackBytes)
	a.Labels, a.Warnings, a.Env = maps.Clone(spec.Labels), created.Warnings, maps.Clone(spec.Env)
	fail := func(err error) (*agent, error) {
		a.discard()
		return nil, err
	}
	if spec.Home != "" {
		if err := copyHome(ctx, cli, created.ID, cfg.User, p.image, spec.Home); err != nil {
			return fail(err)
		}
	}
	if err := a.connect(ctx, container.WaitConditionNextExit); err != nil {
		return fail(fmt.Errorf("attach to container of %q: %w", spec.ID, err))
	}
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		if msg := err.Error(); strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") {
			return fail(fmt.Errorf("%w: command %q not found in image %q: %v", runtime.ErrInvalidSpec, spec.Argv[0], p.image, err))
		}
		return fail(fmt.Errorf("start container of %q: %w", spec.ID, err))
	}
	a.StartedAt = time.Now()
	a.armDeadline(deadline, cfg.DefaultStopTimeout)
	a.follow()
	if err := a.resizeRetrying(ctx, p.size); err != nil {
		a.log.Warn("cannot set the terminal size", "error", err)
	}
	for _, w := range a.Warnings {
		a.log.Warn(w)
	}
	a.log.Info("agent started", "container", shortID(created.ID), "image", p.image)
	return a, nil
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
		return a.release(ctx)
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
	return r.agents.Resize(id, size, func(a *agent) error { return a.resize(ctx, size) })
}

// ready returns the configuration and client, or ErrNotConfigured.
func (r *Runtime) ready() (Config, *client.Client, error) {
	if err := r.agents.Ready(); err != nil {
		return Config{}, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg, r.cli, nil
}

// shortID is a container id as `docker ps` shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// mustJSON encodes what can't fail to encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
