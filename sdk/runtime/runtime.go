// Package runtime is the contract between the parallax host and a runtime:
// the Go interface a runtime implements and the types it exchanges.
//
// A runtime is a transport. It starts a process with a TTY, carries its
// bytes both ways, resizes, stops and reports on it. It knows nothing about
// the agent CLI it runs beyond what the host puts in the Spec.
//
// The required interface is Runtime. Optional features are the small
// interfaces Resizer, StatsReporter and Adopter; the sdk advertises them in
// Capabilities from what the implementation satisfies, so the two can't
// drift apart.
package runtime

import (
	"context"
	"io"
	"time"
)

// ProtocolVersion is the version of the runtime plugin protocol. It is the
// go-plugin handshake version and the "v1" in the gRPC package
// parallax.runtime.v1; a test keeps the two in step.
const ProtocolVersion = 1

// Runtime is what every runtime implements.
//
// All methods must be safe for concurrent use. Methods that take an agent id
// return an error wrapping ErrNotFound for an id the runtime doesn't know.
type Runtime interface {
	// Describe says what the runtime is and what it can do. It is called
	// before Configure, so it must not depend on the configuration.
	Describe(ctx context.Context) (Info, error)

	// Configure hands the runtime its configuration. It is called once,
	// before any other call except Describe.
	Configure(ctx context.Context, req ConfigureRequest) error

	// Health reports whether the runtime can start agents now.
	Health(ctx context.Context) (Health, error)

	// Start starts an agent process with a TTY and returns once it runs.
	// Output produced before anyone attaches must be kept (bounded) and
	// replayed to the first Attach.
	Start(ctx context.Context, spec Spec) (AgentInfo, error)

	// Attach connects to an agent's terminal. Read returns its output and
	// io.EOF once the agent exited and all output was read; Write sends
	// keyboard input. Closing the Conn detaches without stopping the agent.
	Attach(ctx context.Context, id string) (io.ReadWriteCloser, error)

	// Stop ends an agent and releases everything the runtime holds for it.
	// Without Force it asks the agent to exit, then kills it after
	// opts.Timeout. It returns once the agent's processes are gone. Stopping
	// an agent that already exited only releases it. After Stop returns the
	// runtime may forget the agent.
	Stop(ctx context.Context, id string, opts StopOptions) error

	// Wait blocks until the agent exited and returns how. It returns at once
	// for an agent that already exited and was not yet released by Stop.
	Wait(ctx context.Context, id string) (ExitStatus, error)

	// Inspect describes one agent.
	Inspect(ctx context.Context, id string) (AgentInfo, error)

	// List describes every agent the runtime holds, running or exited but
	// not yet stopped.
	List(ctx context.Context) ([]AgentInfo, error)
}

// Resizer is implemented by runtimes that can resize an agent's TTY.
type Resizer interface {
	Resize(ctx context.Context, id string, size Size) error
}

// StatsReporter is implemented by runtimes that report resource usage.
type StatsReporter interface {
	Stats(ctx context.Context, id string) (Stats, error)
}

// Adopter is implemented by runtimes that can give the host back the
// agents it holds. Recover is called after Configure on every start of the
// plugin, and again when a new host process reattaches to a running plugin.
// It returns every agent the runtime still holds, running or exited and
// not yet released by Stop (with State and Exit set), each with Env: the
// agents it started itself as well as those it adopted from an earlier
// plugin process of the same host instance. On a start it also cleans up
// what is left of agents it can't adopt.
//
// Recover may be called any number of times: a second call returns the
// same agents again and must not stop, restart or adopt anything twice.
// It fails only when it can't say what it holds: a leftover it can't clean
// up or adopt is for the runtime to log, as an error would keep from the
// host the agents the runtime does hold.
type Adopter interface {
	Recover(ctx context.Context) ([]AgentInfo, error)
}

// Closer is implemented by runtimes that tidy up when the host ends the
// plugin cleanly: the sdk calls Close once, after the host asked the plugin
// to exit and the last call returned, and the plugin process exits after
// it. It is not called when the plugin dies or is killed, so a runtime
// must not rely on it; the host stops waiting for the plugin about 2s
// after asking, so Close must be quick.
type Closer interface {
	Close(ctx context.Context) error
}

// Info describes a runtime.
type Info struct {
	Name    string
	Version string
	// ProtocolVersion is filled in by the sdk.
	ProtocolVersion int
	// DefaultPriority orders runtimes when the user sets none; lower is
	// preferred. The built-in runtimes use local 10, docker 20, kubernetes 30.
	DefaultPriority int
	Capabilities    Capabilities
	// ConfigSchema declares the attributes of the runtime's config {} block
	// in the host's HCL file. The host decodes the block against it, so
	// mistakes are reported at their place in the user's file.
	ConfigSchema []ConfigAttr
	// AgentPaths is for runtimes whose agents have a filesystem of their
	// own, such as a container's.
	AgentPaths AgentPaths
}

// AgentPaths says where a runtime's agents see their home and workdir. An
// empty field means at the path the host gives in the Spec, as for local
// processes. The host uses them in what it writes for the agent, such as
// the CLI's list of trusted folders and its HOME.
type AgentPaths struct {
	// Home is where the runtime puts a copy of Spec.Home, like
	// "/home/agent".
	Home string
	// Workdir is where the runtime mounts Spec.Workdir, like "/workspace".
	Workdir string
}

// Capabilities says which optional features a runtime has. Resize, Stats
// and Adopt are set by the sdk from the interfaces the runtime implements;
// the limit flags are the runtime's own, as they may depend on the machine.
type Capabilities struct {
	Resize bool
	Stats  bool
	Adopt  bool
	// CPULimit and MemoryLimit say whether Resources.CPU and
	// Resources.Memory are enforced. Where they are not, an agent that asks
	// for a limit starts with a warning in AgentInfo.Warnings.
	CPULimit    bool
	MemoryLimit bool
	// Timeout says whether Resources.Timeout (maximum lifetime) is enforced.
	Timeout bool
}

// ConfigAttr declares one attribute of a runtime's config {} block.
type ConfigAttr struct {
	Name string
	// Type is an HCL type expression: string, number, bool, list(string),
	// map(string) and so on.
	Type        string
	Required    bool
	Description string
}

// ConfigureRequest carries a runtime's configuration.
type ConfigureRequest struct {
	// HostInstance identifies the host, stably across its restarts.
	// Runtimes mark what they create with it, so that two hosts on one
	// machine never touch each other's agents.
	HostInstance string
	// Config is the user's config {} block as a JSON object, already checked
	// against ConfigSchema. It is "{}" when the block is absent.
	Config []byte
	// DataDir is a private directory (mode 0700) the host gives this
	// runtime for its own state: <server.data_dir>/runtimes/<runtime block
	// name>. The host creates it before Configure. It is empty from a host
	// older than this field; a runtime then falls back to a default of its
	// own.
	DataDir string
}

// Health is a runtime's health.
type Health struct {
	Healthy bool
	// Message says why a runtime is unhealthy, or anything worth knowing.
	Message      string
	ActiveAgents int
}

// Size is a terminal size in character cells.
type Size struct {
	Cols uint16
	Rows uint16
}

// Resources limits an agent. Zero values mean no limit.
type Resources struct {
	// CPU in Kubernetes notation: "500m" is half a core, "2" two cores.
	CPU string
	// Memory in Kubernetes notation: "512Mi", "2Gi", or plain bytes.
	Memory string
	// Timeout is the agent's maximum lifetime.
	Timeout time.Duration
}

// Spec says what to start.
type Spec struct {
	ID      string
	Argv    []string
	Env     map[string]string
	Workdir string
	Size    Size
	// Resources limits the agent; see Capabilities for what is enforced.
	Resources Resources
	Labels    map[string]string
	// Image is a hint for runtimes that run images; others ignore it.
	Image string
	// Home, when set, is a directory on the host's machine holding what
	// the agent's home starts with: the CLI's settings, trust and
	// credentials files. A runtime with Info.AgentPaths.Home copies its
	// contents there, owned by the agent's user; one without runs the
	// agent with Env's HOME, which the host points here.
	Home string
}

// State is an agent's state in its runtime.
type State string

const (
	StateRunning State = "running"
	StateExited  State = "exited"
)

// AgentInfo describes an agent in its runtime.
type AgentInfo struct {
	ID        string
	State     State
	PID       int // 0 where the runtime has no meaningful pid
	StartedAt time.Time
	Labels    map[string]string
	// Warnings lists what the runtime could not honour, such as a limit it
	// can't enforce on this machine.
	Warnings []string
	// Exit is set once State is StateExited.
	Exit *ExitStatus
	// Env is the env the agent was started with. Only Recover fills it, so
	// that the host can mask the agent's secrets in its output again after
	// it restarted or reattached: secrets come back from the runtime, from
	// its memory or its own store, never from the host's disk. Start,
	// Inspect and List leave it nil.
	Env map[string]string
}

// ExitStatus says how an agent ended.
type ExitStatus struct {
	// Code is the exit code, or -1 when a signal ended the process.
	Code int
	// Signal names the signal that ended the process, such as "SIGTERM".
	Signal string
	// Reason is a short word or phrase: "exited", "stopped", "killed",
	// "timeout", or why the runtime lost the agent.
	Reason   string
	ExitedAt time.Time
}

// StopOptions control Stop.
type StopOptions struct {
	// Timeout is how long a graceful stop waits before it kills. Zero means
	// the runtime's default.
	Timeout time.Duration
	// Force kills at once.
	Force bool
}

// Stats is an agent's resource usage, over all its processes.
type Stats struct {
	CPUPercent  float64 // 100 is one full core
	MemoryBytes uint64
	Uptime      time.Duration
	Processes   int
}
