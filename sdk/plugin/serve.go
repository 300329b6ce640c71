package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/parallax/parallax/sdk/runtime"
)

// ServeOption changes how Serve runs the plugin.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger hclog.Logger
}

// WithLogger replaces the default logger. The host only turns JSON lines on
// the plugin's stderr, or in its log file when launched WithOutliveHost,
// into log entries, so the logger must write those. Serve's own logger
// masks the agents' keys (see secretMask); this one is written as given.
func WithLogger(logger hclog.Logger) ServeOption {
	return func(c *serveConfig) { c.logger = logger }
}

// Serve runs a runtime plugin; it is the whole of a plugin's main:
//
//	func main() {
//		plugin.Serve(func(logger hclog.Logger) runtime.Runtime {
//			return myruntime.New(logger)
//		})
//	}
//
// factory gets a logger whose entries reach the host's log. Nothing may
// write to stdout before Serve took over: stdout carries the handshake.
// Serve returns when the host ends the plugin, after calling the runtime's
// Close if it implements runtime.Closer.
//
// A plugin the host launched WithOutliveHost logs to the file the host
// named, and so do stray writes to os.Stdout and os.Stderr once the host
// connected, and crash reports: the host may be gone when they happen.
func Serve(factory func(logger hclog.Logger) runtime.Runtime, opts ...ServeOption) {
	// Created before go-plugin swaps os.Stderr for a pipe that the host
	// doesn't read, so entries go to the real stderr.
	var out io.Writer = os.Stderr
	var logFile *os.File
	if path := os.Getenv(logFileEnv); path != "" {
		// The agents we start have no use for it.
		_ = os.Unsetenv(logFileEnv)
		f, err := outliveHost(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "runtime plugin: %v\n", err)
			os.Exit(1)
		}
		out, logFile = f, f
	}
	secrets := newSecretMask(out)
	cfg := serveConfig{
		// Every level is written; the host's logger decides what to keep.
		logger: hclog.New(&hclog.LoggerOptions{
			Level:      hclog.Trace,
			Output:     secrets,
			JSONFormat: true,
		}),
	}
	for _, opt := range opts {
		opt(&cfg)
	}

	grpcOpts := serverOptions()
	if logFile != nil {
		grpcOpts = append(grpcOpts, stdioToFile(logFile)...)
	}
	impl := factory(cfg.logger)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         pluginSet(impl, cfg.logger, secrets),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpcOpts...)...)
		},
		Logger: cfg.logger,
	})
	if c, ok := impl.(runtime.Closer); ok {
		// Under the host's 2s wait for a graceful exit, after which it kills.
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			cfg.logger.Warn("closing the runtime failed", "error", err)
		}
	}
}

const closeTimeout = 1500 * time.Millisecond
