package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/client"
)

const agentsUsage = `parallax-host agents manages the agents of a running host.

Usage:
  parallax-host agents spawn --type TYPE [-- COMMAND...]  start an agent
  parallax-host agents list [-a] [flags]                  list agents; -a adds deleted ones
  parallax-host agents get ID                             show one agent
  parallax-host agents send ID MESSAGE [--wait]           type a message to an agent
  parallax-host agents logs ID [--tail N] [-f]            print an agent's output
  parallax-host agents messages ID                        print an agent's transcript
  parallax-host agents metrics ID                         show an agent's resource use
  parallax-host agents stop ID [--force]                  stop an agent
  parallax-host agents attach ID                          connect your terminal to the agent's

Every command takes --addr (or PARALLAX_ADDR, default ` + defaultAddr + `)
and --token (or PARALLAX_TOKEN). Run "parallax-host agents COMMAND --help"
for a command's flags.
`

func cmdAgents(args []string, std stdio) int {
	if len(args) == 0 {
		fmt.Fprint(std.stderr, agentsUsage)
		return 1
	}
	switch args[0] {
	case "spawn":
		return cmdSpawn(args[1:], std)
	case "list", "ls":
		return cmdList(args[1:], std)
	case "get":
		return cmdGet(args[1:], std)
	case "send":
		return cmdSend(args[1:], std)
	case "logs":
		return cmdLogs(args[1:], std)
	case "messages":
		return cmdMessages(args[1:], std)
	case "metrics":
		return cmdMetrics(args[1:], std)
	case "stop":
		return cmdStop(args[1:], std)
	case "attach":
		return cmdAttach(args[1:], std)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(std.stdout, agentsUsage)
		return 0
	default:
		fmt.Fprintf(std.stderr, "parallax-host agents: unknown command %q\n\n%s", args[0], agentsUsage)
		return 1
	}
}

// credentialVars are the variables --pass-credentials reads, in order of
// preference for each credential.
var credentialVars = []struct {
	flag string
	vars []string
	set  func(*client.Credentials, string)
}{
	{"anthropic-key-env", []string{"ANTHROPIC_API_KEY"}, func(c *client.Credentials, v string) { c.AnthropicKey = v }},
	{"openai-key-env", []string{"OPENAI_API_KEY"}, func(c *client.Credentials, v string) { c.OpenAIKey = v }},
	{"google-key-env", []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}, func(c *client.Credentials, v string) { c.GoogleKey = v }},
	{"github-token-env", []string{"GITHUB_TOKEN"}, func(c *client.Credentials, v string) { c.GitHubToken = v }},
}

// agentTypes lists the types a spawn takes, as the host's adapters know them.
func agentTypes() string { return strings.Join(adapter.Types(), ", ") }

func cmdSpawn(args []string, std stdio) int {
	c := newClientCmd(std, "agents spawn", "--type TYPE [flags] [-- COMMAND ARGS...]",
		`Starts an agent and prints it, its ID first. TYPE is one of
`+agentTypes()+`; a custom agent runs the COMMAND given after "--".

Credentials are never taken on the command line, where ps would show them:
--pass-credentials passes ANTHROPIC_API_KEY, OPENAI_API_KEY,
GEMINI_API_KEY (or GOOGLE_API_KEY) and GITHUB_TOKEN from your environment,
and --anthropic-key-env VAR and the like pass the variable VAR.

Examples:
  parallax-host agents spawn --type claude --workdir . --pass-credentials --wait
  parallax-host agents spawn --type custom --name shell -- bash --norc
  ID=$(parallax-host agents spawn -q --type codex --capability review)
`).withOutput()
	c.takesCommand = true
	fs := c.fs
	var req client.SpawnRequest
	var caps, env stringList
	var res client.Resources
	var timeout durationFlag
	fs.StringVar(&req.Type, "type", "", "agent type: "+agentTypes()+" (custom is the default with a COMMAND)")
	fs.StringVar(&req.Name, "name", "", "a name for the agent")
	fs.StringVar(&req.Workdir, "workdir", "", "the directory the agent works in; relative to yours")
	fs.StringVar(&req.Runtime, "runtime", "", "the runtime to run it on, such as local (default: the host picks)")
	fs.Var(&caps, "capability", "a `CAPABILITY` of the agent, for routing work to it (repeatable)")
	fs.StringVar(&req.Role, "role", "", "the agent's role, such as reviewer")
	fs.Var(&env, "env", "an environment variable `K=V` for the agent (repeatable)")
	fs.StringVar(&res.CPU, "cpu", "", `CPU limit, such as "500m" or "2"`)
	fs.StringVar(&res.Memory, "memory", "", `memory limit, such as "512Mi" or "2Gi"`)
	fs.Var(&timeout, "timeout", "how long the agent may run: a `DURATION` such as 30m, or seconds")
	keyVars := map[string]*string{}
	for _, cv := range credentialVars {
		keyVars[cv.flag] = fs.String(cv.flag, "", "pass the variable `VAR` of your environment as the agent's "+strings.Join(cv.vars, " or "))
	}
	passCreds := fs.Bool("pass-credentials", false, "pass the API keys of your environment (see above) to the agent")
	wait := fs.Bool("wait", false, "wait until the agent has started, and print it as it is then")
	quiet := fs.Bool("q", false, "print the agent's ID only")
	if _, ok := c.parse(args, 0, 0); !ok {
		return c.code
	}
	req.Command = c.after
	if req.Type == "" && len(req.Command) > 0 {
		req.Type = adapter.CustomType
	}
	switch {
	case req.Type == "":
		c.usageError("want --type: " + agentTypes())
		return 1
	case req.Type == adapter.CustomType && len(req.Command) == 0:
		c.usageError(`--type custom runs the command after "--", such as: -- bash --norc`)
		return 1
	}
	req.Capabilities = caps
	if len(env) > 0 {
		req.Env = map[string]string{}
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				c.usageError(fmt.Sprintf("--env %q: want NAME=VALUE", kv))
				return 1
			}
			req.Env[k] = v
		}
	}
	if req.Workdir != "" && !filepath.IsAbs(req.Workdir) && !strings.HasPrefix(req.Workdir, "~") {
		abs, err := filepath.Abs(req.Workdir)
		if err != nil {
			return c.fail(err)
		}
		req.Workdir = abs
	}
	res.Timeout = time.Duration(timeout)
	if res != (client.Resources{}) {
		req.Resources = &res
	}
	creds, err := credentials(std.getenv, keyVars, *passCreds)
	if err != nil {
		c.usageError(err.Error())
		return 1
	}
	req.Credentials = creds

	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := c.context()
	defer stop()
	a, err := cl.Spawn(ctx, req)
	if err != nil {
		return c.fail(err)
	}
	for _, w := range a.Warnings {
		fmt.Fprintf(std.stderr, "warning: %s\n", w)
	}
	if *wait {
		if a, err = waitStarted(ctx, cl, a, std.stderr); err != nil {
			// Say which agent, so that it can be looked at or stopped.
			return c.fail(fmt.Errorf("agent %s: %w", a.ID, err))
		}
	}
	if *quiet {
		fmt.Fprintln(std.stdout, a.ID)
	} else {
		c.showAgent(a)
	}
	if *wait && (a.Status == "error" || a.Status == "stopped") {
		fmt.Fprintf(std.stderr, "parallax-host agents spawn: agent %s did not start: it is %s\n", a.ID, a.Status)
		return 1
	}
	return 0
}

// credentials collects the credentials the flags ask for.
func credentials(getenv func(string) string, keyVars map[string]*string, passAll bool) (*client.Credentials, error) {
	var creds client.Credentials
	for _, cv := range credentialVars {
		if name := *keyVars[cv.flag]; name != "" {
			v := getenv(name)
			if v == "" {
				return nil, fmt.Errorf("--%s %s: the variable is not set", cv.flag, name)
			}
			cv.set(&creds, v)
			continue
		}
		if passAll {
			for _, name := range cv.vars {
				if v := getenv(name); v != "" {
					cv.set(&creds, v)
					break
				}
			}
		}
	}
	if creds == (client.Credentials{}) {
		if passAll {
			return nil, errors.New("--pass-credentials: none of ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, GOOGLE_API_KEY or GITHUB_TOKEN is set")
		}
		return nil, nil
	}
	return &creds, nil
}

// pollInterval is how often --wait looks at a starting agent.
const pollInterval = 200 * time.Millisecond

// waitStarted polls agent a until its status is no longer "starting",
// with a progress line on w.
func waitStarted(ctx context.Context, cl *client.Client, a client.Agent, w io.Writer) (client.Agent, error) {
	start := time.Now()
	if a.Status == "starting" {
		fmt.Fprintf(w, "waiting for agent %s to start…\n", a.ID)
	}
	for a.Status == "starting" {
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(pollInterval):
		}
		next, err := cl.Get(ctx, a.ID)
		if err != nil {
			return a, err
		}
		a = next
	}
	fmt.Fprintf(w, "agent %s is %s after %s\n", a.ID, a.Status, time.Since(start).Round(100*time.Millisecond))
	return a, nil
}

func cmdList(args []string, std stdio) int {
	c := newClientCmd(std, "agents list", "[flags]",
		`Lists the host's agents, those that match every filter given: the running
ones and those that ended and were not deleted. -a adds the deleted ones
the host's history still keeps (server.history).

Examples:
  parallax-host agents list
  parallax-host agents list -a --status stopped
  parallax-host agents list --status ready --capability review -o json
`).withOutput()
	var opts client.ListOptions
	c.fs.BoolVar(&opts.All, "a", false, "list the deleted agents too, from the history")
	c.fs.StringVar(&opts.Status, "status", "", "only agents with this status: starting, ready, busy, error or stopped")
	c.fs.StringVar(&opts.Type, "type", "", "only agents of this type, such as claude")
	c.fs.StringVar(&opts.Runtime, "runtime", "", "only agents on this runtime, such as local")
	c.fs.StringVar(&opts.Capability, "capability", "", "only agents with this capability")
	quiet := c.fs.Bool("q", false, "print the agents' IDs only")
	return c.run(args, 0, 0, func(ctx context.Context, cl *client.Client, _ []string) error {
		as, err := cl.List(ctx, opts)
		if err != nil {
			return err
		}
		switch {
		case *quiet:
			for _, a := range as {
				fmt.Fprintln(std.stdout, a.ID)
			}
		case c.json():
			raws := make([][]byte, len(as))
			for i, a := range as {
				raws[i] = a.Raw
			}
			printJSON(std.stdout, []byte("["+string(joinBytes(raws, ","))+"]"))
		case len(as) == 0:
			fmt.Fprintln(std.stderr, "no agents")
		default:
			printAgents(std.stdout, as, time.Now())
		}
		return nil
	})
}

func joinBytes(bs [][]byte, sep string) []byte {
	var out []byte
	for i, b := range bs {
		if i > 0 {
			out = append(out, sep...)
		}
		out = append(out, b...)
	}
	return out
}

func cmdGet(args []string, std stdio) int {
	c := newClientCmd(std, "agents get", "ID [flags]",
		`Shows one agent: its status, what it waits on, how it exited.

Example:
  parallax-host agents get 3fa2c0de91b4e5f6 -o json
`).withOutput()
	return c.run(args, 1, 1, func(ctx context.Context, cl *client.Client, pos []string) error {
		a, err := cl.Get(ctx, pos[0])
		if err == nil {
			c.showAgent(a)
		}
		return err
	})
}

func cmdSend(args []string, std stdio) int {
	c := newClientCmd(std, "agents send", "ID MESSAGE [flags]",
		`Types MESSAGE to the agent, then Enter. MESSAGE "-" reads it from standard
input. With --wait, waits for the agent's reply and prints it.

Examples:
  parallax-host agents send 3fa2c0de91b4e5f6 "run the tests" --wait
  git diff | parallax-host agents send 3fa2c0de91b4e5f6 - --wait --timeout 10m
`).withOutput()
	wait := c.fs.Bool("wait", false, "wait for the agent's reply and print it")
	timeout := durationFlag(5 * time.Minute)
	c.fs.Var(&timeout, "timeout", "with --wait, how long to wait for the reply: a `DURATION` such as 10m, or seconds")
	pos, ok := c.parse(args, 2, 2)
	if !ok {
		return c.code
	}
	msg := pos[1]
	if msg == "-" {
		b, err := io.ReadAll(std.stdin)
		if err != nil {
			return c.fail(fmt.Errorf("reading the message from standard input: %w", err))
		}
		msg = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := c.context()
	defer stop()
	req := client.SendRequest{Message: msg}
	if *wait {
		req.ExpectResponse, req.Timeout = true, time.Duration(timeout)
	}
	r, err := cl.Send(ctx, pos[0], req)
	if err != nil {
		return c.fail(err)
	}
	switch {
	case c.json():
		printJSON(std.stdout, r.Raw)
	case r.Message != nil:
		fmt.Fprint(std.stdout, withNewline(r.Message.Content))
	default:
		fmt.Fprintf(std.stderr, "sent to %s\n", pos[0])
	}
	return 0
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func cmdLogs(args []string, std stdio) int {
	c := newClientCmd(std, "agents logs", "ID [flags]",
		`Prints the agent's recent output: lines of text with the terminal's escape
codes removed, or with --raw the bytes as the terminal got them.

-f follows the output over the agent's terminal WebSocket, read-only,
until the agent exits or you press Ctrl-C. It prints the bytes as they
come, escape codes included, after a replay of recent output, so --tail
does not apply.

Examples:
  parallax-host agents logs 3fa2c0de91b4e5f6 --tail 50
  parallax-host agents logs 3fa2c0de91b4e5f6 -f
`)
	tail := c.fs.Int("tail", 0, "print only the last N lines (default: all the host keeps)")
	raw := c.fs.Bool("raw", false, "print the raw terminal bytes, escape codes included")
	follow := c.fs.Bool("f", false, "follow the output as it comes (raw bytes)")
	pos, ok := c.parse(args, 1, 1)
	if !ok {
		return c.code
	}
	switch {
	case *tail < 0:
		c.usageError("--tail: want a number of lines, 0 or more")
		return 1
	case *follow && *tail > 0:
		c.usageError("--tail does not apply with -f, which starts from a replay of recent output")
		return 1
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := c.context()
	defer stop()
	if *follow {
		if err := followTerminal(ctx, cl, pos[0], std.stdout); err != nil && !errors.Is(err, context.Canceled) {
			return c.fail(err)
		}
		return 0
	}
	out, err := cl.Logs(ctx, pos[0], client.LogOptions{Tail: *tail, Raw: *raw})
	if err != nil {
		return c.fail(err)
	}
	_, _ = std.stdout.Write(out)
	if !*raw && len(out) > 0 && out[len(out)-1] != '\n' {
		// The last line is a prompt still being typed on; end it, so the
		// shell's own prompt starts on a line of its own.
		_, _ = std.stdout.Write([]byte("\n"))
	}
	return 0
}

// followTerminal copies agent id's terminal output to w until the agent
// exits or ctx ends. It never types anything.
func followTerminal(ctx context.Context, cl *client.Client, id string, w io.Writer) error {
	t, err := cl.Terminal(ctx, id)
	if err != nil {
		return err
	}
	defer t.Close()
	for {
		b, err := t.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
}

func cmdMetrics(args []string, std stdio) int {
	c := newClientCmd(std, "agents metrics", "ID [flags]",
		`Shows the agent's CPU and memory use, uptime and message count. CPU and
memory are "-" on a runtime that reports no stats.

Example:
  parallax-host agents metrics 3fa2c0de91b4e5f6
`).withOutput()
	return c.run(args, 1, 1, func(ctx context.Context, cl *client.Client, pos []string) error {
		m, err := cl.Metrics(ctx, pos[0])
		if err != nil {
			return err
		}
		if c.json() {
			printJSON(std.stdout, m.Raw)
		} else {
			printMetrics(std.stdout, m)
		}
		return nil
	})
}

func cmdMessages(args []string, std stdio) int {
	c := newClientCmd(std, "agents messages", "ID [flags]",
		`Prints the agent's transcript: each message sent to it and each reply, and
the questions it asked and their answers, with their times. It works for
agents that ended, too, as long as the host's history keeps them.

Examples:
  parallax-host agents messages 3fa2c0de91b4e5f6
  parallax-host agents messages 3fa2c0de91b4e5f6 -o json
`).withOutput()
	return c.run(args, 1, 1, func(ctx context.Context, cl *client.Client, pos []string) error {
		entries, raw, err := cl.Messages(ctx, pos[0])
		if err != nil {
			return err
		}
		switch {
		case c.json():
			printJSON(std.stdout, raw)
		case len(entries) == 0:
			fmt.Fprintln(std.stderr, "no messages yet")
		default:
			printTranscript(std.stdout, entries)
		}
		return nil
	})
}

func cmdStop(args []string, std stdio) int {
	c := newClientCmd(std, "agents stop", "ID [flags]",
		`Stops the agent: asks it to exit, kills it if it has not after the timeout,
and prints its last state.

Examples:
  parallax-host agents stop 3fa2c0de91b4e5f6
  parallax-host agents stop 3fa2c0de91b4e5f6 --force
`).withOutput()
	force := c.fs.Bool("force", false, "kill the agent at once")
	purge := c.fs.Bool("purge", false, "remove the agent's history too: its record, transcript and output")
	var timeout durationFlag
	c.fs.Var(&timeout, "timeout", "how long the agent may take to exit: a `DURATION` such as 10s, or seconds (default: the host's)")
	return c.run(args, 1, 1, func(ctx context.Context, cl *client.Client, pos []string) error {
		a, err := cl.Stop(ctx, pos[0], client.StopOptions{Force: *force, Timeout: time.Duration(timeout), Purge: *purge})
		if err == nil {
			c.showAgent(a)
		}
		return err
	})
}

// showAgent prints a as a table, or as the API's JSON with -o json.
func (c *clientCmd) showAgent(a client.Agent) {
	if c.json() {
		printJSON(c.std.stdout, a.Raw)
	} else {
		printAgent(c.std.stdout, a)
	}
}
