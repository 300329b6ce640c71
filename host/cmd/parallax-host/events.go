package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/parallax/parallax/host/internal/client"
)

func cmdEvents(args []string, std stdio) int {
	c := newClientCmd(std, "events", "[flags]",
		`Prints the host's events as they happen, one a line: time, event, agent ID
and data, until you press Ctrl-C. -o json prints each event's JSON on a line.

Examples:
  parallax-host events
  parallax-host events --agent 3fa2c0de91b4e5f6 -o json | jq .
`).withOutput()
	agentID := c.fs.String("agent", "", "only the events of the agent with this `ID`")
	return c.run(args, 0, 0, func(ctx context.Context, cl *client.Client, _ []string) error {
		s, err := cl.Events(ctx, *agentID)
		if err != nil {
			return err
		}
		defer s.Close()
		for {
			e, err := s.Next(ctx)
			switch {
			case errors.Is(err, context.Canceled):
				return nil
			case errors.Is(err, io.EOF):
				fmt.Fprintln(std.stderr, "parallax-host events: the host ended the stream")
				return nil
			case err != nil:
				return err
			}
			if c.json() {
				fmt.Fprintf(std.stdout, "%s\n", compactJSON(e.Raw))
			} else {
				printEvent(std.stdout, e)
			}
		}
	})
}

// printEvent writes e as one line: time, event, agent and data.
func printEvent(w io.Writer, e client.Event) {
	data := ""
	if len(e.Data) > 0 {
		b, _ := json.Marshal(e.Data)
		data = string(b)
	}
	fmt.Fprintf(w, "%s  %-15s  %-16s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Event, dash(e.AgentID), data)
}

// compactJSON returns raw on one line.
func compactJSON(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
