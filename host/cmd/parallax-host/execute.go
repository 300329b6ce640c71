package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/client"
	"github.com/parallax/parallax/host/internal/events"
)

func cmdExecute(args []string, std stdio) int {
	c := newClientCmd(std, "execute", "PATTERN [flags]",
		`Runs a pattern of the running host on the given input, shows its
progress (each step as it completes) and prints the result. It exits 1 if
the execution fails. -o json prints the execution's JSON instead.

Examples:
  parallax-host execute code-review --input files=auth.ts
  parallax-host execute feature-team --input feature="password reset" -o json
`).withOutput()
	var inputs inputFlag
	c.fs.Var(&inputs, "input", "an input of the pattern's task as `name=value`; repeat for more")
	return c.run(args, 1, 1, func(ctx context.Context, cl *client.Client, rest []string) error {
		// Subscribe first, so no step's event comes before we listen.
		feed, err := cl.Events(ctx, "")
		if err != nil {
			return err
		}
		defer feed.Close()
		id, err := cl.Execute(ctx, rest[0], inputs)
		if err != nil {
			return err
		}
		if !c.json() {
			fmt.Fprintf(std.stderr, "execution %s of %s started\n", id, rest[0])
		}
		for {
			e, err := feed.Next(ctx)
			if err != nil {
				return err
			}
			if e.Data["executionId"] != id {
				continue
			}
			switch e.Event {
			case events.StepCompleted:
				if !c.json() {
					fmt.Fprintf(std.stderr, "  step %v done (confidence %.2f)\n", e.Data["step"], number(e.Data["confidence"]))
				}
				continue
			case events.ExecutionCompleted, events.ExecutionFailed:
			default:
				continue
			}
			x, err := cl.Execution(ctx, id)
			if err != nil {
				return err
			}
			if c.json() {
				b, _ := json.MarshalIndent(x, "", "  ")
				fmt.Fprintln(std.stdout, string(b))
			} else {
				printExecution(std, x)
			}
			if x.Status != "completed" {
				return errors.New("the execution failed: " + x.Error)
			}
			return nil
		}
	})
}

func printExecution(std stdio, x client.Execution) {
	took := ""
	if x.EndedAt != nil {
		took = x.EndedAt.Sub(x.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(std.stderr, "%s in %s, confidence %.2f, %d agent answers", x.Status, took, x.Confidence, len(x.Agents))
	if x.Reasoning != "" {
		fmt.Fprintf(std.stderr, ": %s", x.Reasoning)
	}
	fmt.Fprintln(std.stderr)
	if x.Result != "" {
		fmt.Fprintln(std.stdout, x.Result)
	}
}

func number(v any) float64 {
	f, _ := v.(float64)
	return f
}

// inputFlag collects --input name=value.
type inputFlag map[string]string

func (f *inputFlag) String() string { return "" }

func (f *inputFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not name=value; write it like --input files=auth.ts", s)
	}
	if *f == nil {
		*f = inputFlag{}
	}
	(*f)[name] = value
	return nil
}
