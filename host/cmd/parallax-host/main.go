// Command parallax-host runs CLI coding agents on pluggable runtimes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `parallax-host runs CLI coding agents on pluggable runtimes.

Usage:
  parallax-host run [flags] CONFIG.hcl       run the host
  parallax-host validate [flags] CONFIG.hcl  check a config file, plugins included
  parallax-host agents COMMAND [flags]       manage the agents of a running host
  parallax-host events [flags]               print a running host's events
  parallax-host execute PATTERN [flags]      run a pattern of a running host
  parallax-host version                      print the version

Run "parallax-host COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "agents":
		return cmdAgents(args[1:], osIO(stdout, stderr))
	case "events":
		return cmdEvents(args[1:], osIO(stdout, stderr))
	case "execute":
		return cmdExecute(args[1:], osIO(stdout, stderr))
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "parallax-host", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "parallax-host: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// command is what every command that takes a config file shares: its log
// flags, its one CONFIG argument and a logger.
type command struct {
	fs       *flag.FlagSet
	logLevel *string
	logJSON  *bool
	// secrets are the live agents' keys, masked in everything logged,
	// the plugins' lines included, as they go through the same logger.
	secrets *redact.Set
}

func newCommand(name, defaultLevel string, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &command{
		fs:       fs,
		logLevel: fs.String("log-level", defaultLevel, "log level: trace, debug, info, warn, error"),
		logJSON:  fs.Bool("log-json", false, "log as JSON lines instead of text"),
		secrets:  redact.NewSet(redact.DefaultLinger),
	}
}

// parse parses args and returns the config path and a logger; false means
// a usage error, already reported.
func (c *command) parse(args []string, stderr io.Writer) (string, hclog.Logger, bool) {
	if err := c.fs.Parse(args); err != nil {
		return "", nil, false
	}
	if c.fs.NArg() != 1 {
		fmt.Fprintf(stderr, "parallax-host %s: want exactly one config file, such as examples/config.hcl\n", c.fs.Name())
		return "", nil, false
	}
	lvl := hclog.LevelFromString(*c.logLevel)
	if lvl == hclog.NoLevel {
		fmt.Fprintf(stderr, "parallax-host %s: -log-level %q: use trace, debug, info, warn or error\n", c.fs.Name(), *c.logLevel)
		return "", nil, false
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "parallax-host", Level: lvl, Output: c.secrets.Writer(stderr), JSONFormat: *c.logJSON, TimeFormat: time.RFC3339Nano,
	})
	return c.fs.Arg(0), log, true
}

func cmdRun(args []string, stderr io.Writer) int {
	cmd := newCommand("run", "info", stderr)
	keep := cmd.fs.Bool("keep-agents", false, "on Ctrl-C or SIGTERM, leave the agents and runtime plugins running for the next start to adopt (as server.keep_agents)")
	path, log, ok := cmd.parse(args, stderr)
	if !ok {
		return 2
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		_ = config.WriteDiagnostics(stderr, filesOf(cfg), diags)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := server.Run(ctx, cfg, server.Options{Logger: log, Version: version, Secrets: cmd.secrets, KeepAgents: *keep})
	var de *server.DiagError
	switch {
	case errors.As(err, &de):
		_ = config.WriteDiagnostics(stderr, cfg.Files, de.Diags)
		return 1
	case err != nil:
		log.Error("host failed", "error", err)
		return 1
	}
	return 0
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("validate", "warn", stderr)
	noPlugins := cmd.fs.Bool("no-plugins", false, "don't start the plugins to check their config {} blocks")
	path, log, ok := cmd.parse(args, stderr)
	if !ok {
		return 2
	}
	cfg, diags := config.Load(path)
	if !diags.HasErrors() && !*noPlugins {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		diags = append(diags, runtimes.Check(ctx, cfg, server.Launch, log.Named("validate"))...)
		cancel()
	}
	if len(diags) > 0 {
		_ = config.WriteDiagnostics(stderr, filesOf(cfg), diags)
	}
	if diags.HasErrors() {
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid\n", path)
	return 0
}

// filesOf returns the sources diagnostics quote; without a Config,
// WriteDiagnostics reads them from disk.
func filesOf(cfg *config.Config) map[string][]byte {
	if cfg == nil {
		return nil
	}
	return cfg.Files
}
