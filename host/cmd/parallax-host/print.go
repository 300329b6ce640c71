package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parallax/parallax/host/internal/client"
	"github.com/parallax/parallax/host/internal/events"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// printAgents writes agents as a table, one a row.
func printAgents(w io.Writer, as []client.Agent, now time.Time) {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSTATUS\tRUNTIME\tAGE")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, dash(a.Name), a.Type, status(a), dash(a.Runtime), age(now.Sub(a.CreatedAt)))
	}
	_ = tw.Flush()
}

// printAgent writes one agent as a table of fields, its ID first.
func printAgent(w io.Writer, a client.Agent) {
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("ID", a.ID)
	row("NAME", dash(a.Name))
	row("TYPE", a.Type)
	if a.Pooled {
		row("STATUS", string(a.Status)+" (warm pool)")
	} else {
		row("STATUS", string(a.Status))
	}
	row("RUNTIME", dash(a.Runtime))
	if !a.CreatedAt.IsZero() {
		row("CREATED", a.CreatedAt.Local().Format(time.RFC3339)+" ("+age(time.Since(a.CreatedAt))+" ago)")
	}
	if a.Workdir != "" {
		row("WORKDIR", a.Workdir)
	}
	if len(a.Command) > 0 {
		row("COMMAND", strings.Join(a.Command, " "))
	}
	if a.Role != "" {
		row("ROLE", a.Role)
	}
	if len(a.Capabilities) > 0 {
		row("CAPABILITIES", strings.Join(a.Capabilities, ", "))
	}
	if p := a.Pending; p != nil {
		switch p.Type {
		case events.LoginRequired:
			row("WAITING ON", "login"+prefixed(": ", p.LoginURL)+prefixed(" code ", p.DeviceCode)+prefixed(" — ", p.Message))
		default:
			row("WAITING ON", string(p.Type)+prefixed(": ", oneLine(p.Question)))
			for i, c := range p.Choices {
				mark := " "
				if i == p.Selected {
					mark = ">"
				}
				row("", fmt.Sprintf("%s %d. %s", mark, i+1, oneLine(c)))
			}
		}
	}
	if a.Error != "" {
		row("ERROR", oneLine(a.Error))
	}
	for _, warning := range a.Warnings {
		row("WARNING", oneLine(warning))
	}
	if a.EndedAt != nil {
		row("ENDED", a.EndedAt.Local().Format(time.RFC3339)+" ("+age(time.Since(*a.EndedAt))+" ago)")
	}
	if e := a.Exit; e != nil {
		exit := fmt.Sprintf("code %d", e.Code)
		if e.Signal != "" {
			exit += ", signal " + e.Signal
		}
		row("EXIT", exit+prefixed(": ", e.Reason))
	}
	_ = tw.Flush()
}

// printMetrics writes an agent's metrics as a table of fields.
func printMetrics(w io.Writer, m client.Metrics) {
	tw := newTable(w)
	cpu, mem := "-", "-"
	if m.CPU != nil {
		cpu = fmt.Sprintf("%.1f%%", *m.CPU)
	}
	if m.Memory != nil {
		mem = bytesize(*m.Memory)
	}
	fmt.Fprintf(tw, "CPU\t%s\n", cpu)
	fmt.Fprintf(tw, "MEMORY\t%s\n", mem)
	fmt.Fprintf(tw, "UPTIME\t%s\n", (time.Duration(m.Uptime) * time.Millisecond).Round(time.Second))
	fmt.Fprintf(tw, "MESSAGES\t%d\n", m.MessageCount)
	_ = tw.Flush()
}

// status is an agent's status, with what it waits on or that it idles in
// the warm pool.
func status(a client.Agent) string {
	switch {
	case a.Pending != nil:
		return string(a.Status) + " (" + strings.ReplaceAll(string(a.Pending.Type), "_", " ") + ")"
	case a.Pooled:
		return string(a.Status) + " (warm pool)"
	case a.Removed:
		return string(a.Status) + " (deleted)"
	}
	return string(a.Status)
}

// printTranscript writes an agent's transcript, an entry to a paragraph.
func printTranscript(w io.Writer, entries []client.TranscriptEntry) {
	for i, e := range entries {
		if i > 0 {
			fmt.Fprintln(w)
		}
		who := map[string]string{"sent": "you", "reply": "agent", "question": "agent asks", "answer": "you answer"}[e.Kind]
		fmt.Fprintf(w, "[%s] %s:\n", e.Time.Local().Format("2006-01-02 15:04:05"), dash(who))
		text := e.Text
		for n, c := range e.Choices {
			text += fmt.Sprintf("\n  %d. %s", n+1, c)
		}
		fmt.Fprint(w, withNewline(text))
	}
}

// age says roughly how long d is, as "45s", "12m", "3h" or "2d".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func bytesize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// oneLine keeps a table row one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
