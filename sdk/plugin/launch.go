package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/parallax/parallax/sdk/runtime"
)

// LaunchOption changes how Launch starts a plugin.
type LaunchOption func(*launchConfig)

type launchConfig struct {
	startTimeout time.Duration
	env          []string
	logFile      string // set by WithOutliveHost
}

// WithStartTimeout bounds how long the plugin may take to complete the
// handshake. The default is 10 seconds; a deadline on Launch's context
// shortens it.
func WithStartTimeout(d time.Duration) LaunchOption {
	return func(c *launchConfig) { c.startTimeout = d }
}

// WithEnv adds "KEY=value" entries to the plugin's environment, which is
// otherwise the host's. They win over the host's values.
func WithEnv(env ...string) LaunchOption {
	return func(c *launchConfig) { c.env = append(c.env, env...) }
}

// WithOutliveHost lets the plugin run on after the host process dies or
// exits, with its agents, for a later host to Reattach to. The plugin then
// writes its JSON log lines to the file at logPath (appending; created
// with mode 0600) instead of to stderr, where nobody would read them once
// the host is gone; the host follows that file itself. Without this
// option, the plugin is killed when the host dies.
func WithOutliveHost(logPath string) LaunchOption {
	return func(c *launchConfig) { c.logFile = logPath }
}

// Launch starts the runtime plugin binary at path and connects to it.
//
// The plugin's JSON log lines on stderr become entries of logger, named
// after the binary; with WithOutliveHost they go to its log file instead,
// for the caller to follow. The plugin runs until Kill, or with
// WithOutliveHost until Kill after a Detach and a Reattach; the caller
// must see to it.
// Launch fails with an error naming path when the binary is missing, is
// not a parallax runtime plugin, or speaks another protocol version.
func Launch(ctx context.Context, path string, logger hclog.Logger, opts ...LaunchOption) (*Client, error) {
	cfg := launchConfig{startTimeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	if deadline, ok := ctx.Deadline(); ok {
		cfg.startTimeout = min(cfg.startTimeout, time.Until(deadline))
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}

	if err := checkExecutable(path); err != nil {
		return nil, fmt.Errorf("launch runtime plugin: %w", err)
	}

	cmd := exec.Command(path)
	// go-plugin would put the host's environment after ours, and the
	// last value of a key wins; so we add it ourselves, first. A log file
	// the host itself inherited must not turn the plugin into one that
	// outlives it.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, logFileEnv+"=") })
	cmd.Env = append(cmd.Env, cfg.env...)
	// Its own process group keeps a Ctrl-C or a group-wide SIGTERM aimed at
	// the host from killing the plugin before the host stopped its agents
	// through it. Pdeathsig ends the plugin if the host dies without Kill.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cfg.logFile != "" {
		logFile, err := filepath.Abs(cfg.logFile)
		if err != nil {
			return nil, fmt.Errorf("launch runtime plugin %s: log file: %w", path, err)
		}
		cmd.SysProcAttr.Pdeathsig = 0
		cmd.Env = append(cmd.Env, logFileEnv+"="+logFile)
	}
	proc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          pluginSet(nil, nil, nil), // the host side needs no implementation
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Managed:          false,
		StartTimeout:     cfg.startTimeout,
		Logger:           logger,
		GRPCDialOptions:  dialOptions(),
	})

	client, err := connect(ctx, proc)
	if err != nil {
		// Kill waits for a start still in progress, so it runs apart.
		go proc.Kill()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("launch runtime plugin %s: %w", path, err)
		}
		return nil, fmt.Errorf("launch runtime plugin %s: not a parallax runtime plugin of protocol version %d, or it failed to start: %w",
			path, runtime.ProtocolVersion, err)
	}
	client.proc = pluginProcess{proc}
	return client, nil
}

func checkExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable file", path)
	}
	return nil
}

// connect starts the plugin, does the handshake and dispenses the runtime,
// giving up when ctx ends.
func connect(ctx context.Context, proc *goplugin.Client) (*Client, error) {
	type result struct {
		client *Client
		err    error
	}
	done := make(chan result, 1)
	go func() {
		rpc, err := proc.Client()
		if err != nil {
			done <- result{err: err}
			return
		}
		raw, err := rpc.Dispense(PluginName)
		if err != nil {
			done <- result{err: err}
			return
		}
		client, ok := raw.(*Client)
		if !ok {
			done <- result{err: errors.New("dispensed an unexpected type")}
			return
		}
		done <- result{client: client}
	}()
	select {
	case r := <-done:
		return r.client, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pluginProcess is a plugin process, launched or reattached to.
type pluginProcess struct {
	c *goplugin.Client
}

func (p pluginProcess) kill()        { p.c.Kill() }
func (p pluginProcess) exited() bool { return p.c.Exited() }

func (p pluginProcess) pid() int {
	if rc := p.c.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

func (p pluginProcess) reattachConfig() ReattachConfig {
	rc := p.c.ReattachConfig()
	if rc == nil || rc.Addr == nil {
		return ReattachConfig{}
	}
	return ReattachConfig{
		PID:             rc.Pid,
		Network:         rc.Addr.Network(),
		Address:         rc.Addr.String(),
		ProtocolVersion: cmp.Or(p.c.NegotiatedVersion(), rc.ProtocolVersion),
	}
}

// detach closes the connection only. go-plugin's Close would also ask the
// plugin to exit.
func (p pluginProcess) detach() {
	rpc, err := p.c.Client()
	if err != nil {
		return
	}
	if g, ok := rpc.(*goplugin.GRPCClient); ok {
		_ = g.Conn.Close()
	}
}
