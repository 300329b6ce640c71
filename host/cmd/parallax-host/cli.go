package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parallax/parallax/host/internal/client"
)

// defaultAddr is where "parallax-host run" listens unless told otherwise.
const defaultAddr = "http://127.0.0.1:3000"

// stdio is what a client command reads, writes and looks up.
type stdio struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func osIO(stdout, stderr io.Writer) stdio {
	return stdio{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
}

// clientCmd is a command that talks to a running host. Each has --addr and
// --token; those that print an API object also have -o.
type clientCmd struct {
	std      stdio
	name     string // such as "agents spawn"
	synopsis string // the arguments, such as "ID [flags]"
	help     string // what it does, with an example
	fs       *flag.FlagSet
	addr     string
	token    string
	output   string
	// takesCommand keeps the arguments after "--" in after; other
	// commands take them as positional arguments.
	takesCommand bool
	// after holds the arguments after "--".
	after []string
	// code is the exit code when parse returns false.
	code int
}

func newClientCmd(std stdio, name, synopsis, help string) *clientCmd {
	c := &clientCmd{std: std, name: name, synopsis: synopsis, help: help}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	c.fs.SetOutput(std.stderr)
	c.fs.Usage = func() {}
	c.fs.StringVar(&c.addr, "addr", "", "the host's address (default $PARALLAX_ADDR, else "+defaultAddr+")")
	c.fs.StringVar(&c.token, "token", "", "the host's token (default $PARALLAX_TOKEN; prefer the variable: flags show in ps)")
	return c
}

// withOutput adds -o.
func (c *clientCmd) withOutput() *clientCmd {
	c.fs.StringVar(&c.output, "o", "table", "output format: table for people, json for scripts (the API's JSON)")
	return c
}

func (c *clientCmd) json() bool { return c.output == "json" }

// parse parses args, with flags before, between or after the positional
// arguments; everything after "--" is left in c.after. It wants between
// minPos and maxPos positional arguments (maxPos < 0: any number). False
// means stop with c.code: help was printed, or a usage error.
func (c *clientCmd) parse(args []string, minPos, maxPos int) ([]string, bool) {
	if i := slices.Index(args, "--"); i >= 0 {
		args, c.after = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(c.std.stdout)
				c.code = 0
				return nil, false
			}
			// flag has said what is wrong.
			return nil, c.usageError("")
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if !c.takesCommand {
		pos, c.after = append(pos, c.after...), nil
	}
	switch {
	case c.output != "" && c.output != "table" && c.output != "json":
		return nil, c.usageError(fmt.Sprintf("-o %q: want table or json", c.output))
	case len(pos) < minPos || maxPos >= 0 && len(pos) > maxPos:
		return nil, c.usageError("want " + c.synopsis)
	}
	return pos, true
}

// usageError reports a usage error and returns false, for parse.
func (c *clientCmd) usageError(msg string) bool {
	if msg != "" {
		fmt.Fprintf(c.std.stderr, "parallax-host %s: %s\n", c.name, msg)
	}
	fmt.Fprintf(c.std.stderr, "Run \"parallax-host %s --help\" for usage.\n", c.name)
	c.code = 1
	return false
}

func (c *clientCmd) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: parallax-host %s %s\n\n%s\nFlags:\n", c.name, c.synopsis, c.help)
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(c.std.stderr)
}

// client returns a client of the host --addr names.
func (c *clientCmd) client() (*client.Client, error) {
	if c.addr == "" {
		c.addr = c.std.getenv("PARALLAX_ADDR")
	}
	if c.addr == "" {
		c.addr = defaultAddr
	}
	if c.token == "" {
		c.token = c.std.getenv("PARALLAX_TOKEN")
	}
	cl, err := client.New(c.addr, c.token)
	if err == nil {
		c.addr = cl.Addr()
	}
	return cl, err
}

// context returns a context that ends on Ctrl-C or SIGTERM.
func (c *clientCmd) context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// run parses args, which must hold minPos to maxPos positional arguments,
// and calls do with a client and a context that ends on Ctrl-C. It returns
// the exit code: 1 if do failed, after saying why.
func (c *clientCmd) run(args []string, minPos, maxPos int, do func(ctx context.Context, cl *client.Client, pos []string) error) int {
	pos, ok := c.parse(args, minPos, maxPos)
	if !ok {
		return c.code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := c.context()
	defer stop()
	if err := do(ctx, cl, pos); err != nil {
		return c.fail(err)
	}
	return 0
}

// fail reports err and returns exit code 1.
func (c *clientCmd) fail(err error) int {
	fmt.Fprintf(c.std.stderr, "parallax-host %s: %s\n", c.name, c.explain(err))
	return 1
}

// explain says what went wrong and, where it can, what to do about it.
func (c *clientCmd) explain(err error) string {
	var ce *client.ConnError
	var ae *client.APIError
	switch {
	case errors.As(err, &ce) && errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("no parallax host is running at %s (connection refused).\n"+
			"Start one with \"parallax-host run config.hcl\", or point --addr or PARALLAX_ADDR at a running host.", ce.Addr)
	case errors.As(err, &ce):
		return err.Error() + "\nCheck --addr or PARALLAX_ADDR."
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized && c.token == "":
		return fmt.Sprintf("the host at %s requires a token: set PARALLAX_TOKEN to its server.token.", c.addr)
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("the host at %s refused the token: set PARALLAX_TOKEN to its server.token.", c.addr)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return err.Error()
}

// printJSON writes raw JSON, indented, with a final newline.
func printJSON(w io.Writer, raw []byte) {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		b.Reset()
		b.Write(bytes.TrimSpace(raw))
	}
	b.WriteByte('\n')
	_, _ = w.Write(b.Bytes())
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// durationFlag reads "30m" or a number of seconds.
type durationFlag time.Duration

func (d *durationFlag) String() string {
	if *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *durationFlag) Set(v string) error {
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		*d = durationFlag(secs * float64(time.Second))
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		return errors.New(`want a duration such as "30s" or "5m", or a number of seconds`)
	}
	*d = durationFlag(t)
	return nil
}
