package aggregate

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Result is what one agent returned for the task.
type Result struct {
	AgentID    string
	Output     string  // the agent's answer
	Confidence float64 // 0..1
	Reasoning  string
	Err        error // the agent failed; its Output is not counted
}

// Outcome is the combined answer of a pattern.
type Outcome struct {
	Output     string // the combined answer
	Confidence float64
	Reasoning  string   // how it was combined, written for the user
	Results    []Result // the inputs, with confidences clamped, for the API
}

// ErrNoSuccess is wrapped by the error of every strategy when no agent
// succeeded; the joined error also lists each agent's failure.
var ErrNoSuccess = errors.New("aggregate: no agent succeeded")

// Strategies names the strategies ByStrategy knows, in the order a
// validation message should list them.
var Strategies = []string{"parallel", "sequential", "consensus", "best"}

// ByStrategy returns the combining function for a strategy name.
func ByStrategy(name string) (func([]Result) (Outcome, error), bool) {
	switch name {
	case "parallel":
		return Parallel, true
	case "sequential":
		return Sequential, true
	case "consensus":
		return Consensus, true
	case "best":
		return Best, true
	}
	return nil, false
}

// Parallel keeps every successful answer, each under a header naming its
// agent, so the user sees all of them side by side. Its confidence is the
// mean of the successful agents' confidences.
func Parallel(results []Result) (Outcome, error) {
	in := clamped(results)
	ok := succeeded(in)
	if len(ok) == 0 {
		return Outcome{}, noSuccess(in)
	}
	if len(in) == 1 {
		// One agent's answer needs no heading of whose it is.
		return Outcome{Output: in[0].Output, Confidence: in[0].Confidence, Reasoning: in[0].Reasoning, Results: in}, nil
	}
	parts := make([]string, 0, len(ok))
	sum := 0.0
	for _, i := range ok {
		r := in[i]
		sum += r.Confidence
		parts = append(parts, fmt.Sprintf("## %s (confidence %.2f)\n%s",
			name(i, r), r.Confidence, strings.TrimRight(r.Output, "\n")))
	}
	return Outcome{
		Output:     strings.Join(parts, "\n\n"),
		Confidence: sum / float64(len(ok)),
		Reasoning:  fmt.Sprintf("combined the answers of %d of %d agents%s", len(ok), len(in), failedNote(in)),
		Results:    in,
	}, nil
}

// Best picks the successful answer with the highest confidence; on a tie
// the earlier agent wins, so the order a pattern lists its agents in is
// its tie-break.
func Best(results []Result) (Outcome, error) {
	in := clamped(results)
	ok := succeeded(in)
	if len(ok) == 0 {
		return Outcome{}, noSuccess(in)
	}
	best := ok[0]
	for _, i := range ok[1:] {
		if in[i].Confidence > in[best].Confidence {
			best = i
		}
	}
	r := in[best]
	return Outcome{
		Output:     r.Output,
		Confidence: r.Confidence,
		Reasoning: fmt.Sprintf("%s was the most confident (%.2f) of %d successful agents%s",
			name(best, r), r.Confidence, len(ok), failedNote(in)),
		Results: in,
	}, nil
}

// Sequential takes the answer of the last step of a chain. Each step has
// already built on the one before, so earlier answers are not combined; and
// a chain is only as good as its end, so a failed last step fails the
// whole outcome even when earlier steps succeeded.
func Sequential(results []Result) (Outcome, error) {
	in := clamped(results)
	if len(in) == 0 {
		return Outcome{}, ErrNoSuccess
	}
	last := len(in) - 1
	r := in[last]
	if r.Err != nil {
		return Outcome{}, fmt.Errorf("aggregate: the last of %d steps (%s) failed: %w", len(in), name(last, r), r.Err)
	}
	return Outcome{
		Output:     r.Output,
		Confidence: r.Confidence,
		Reasoning:  fmt.Sprintf("result of the last of %d steps (%s)", len(in), name(last, r)),
		Results:    in,
	}, nil
}

// clamped copies the results with each confidence forced into 0..1 and NaN
// made 0, so that a misbehaving agent cannot outweigh the others and the
// outcome still encodes as JSON (which has no NaN or infinities).
func clamped(results []Result) []Result {
	out := make([]Result, len(results))
	for i, r := range results {
		switch {
		case math.IsNaN(r.Confidence) || r.Confidence < 0:
			r.Confidence = 0
		case r.Confidence > 1:
			r.Confidence = 1
		}
		out[i] = r
	}
	return out
}

// succeeded returns the positions of the results without an error.
func succeeded(results []Result) []int {
	var ok []int
	for i, r := range results {
		if r.Err == nil {
			ok = append(ok, i)
		}
	}
	return ok
}

// noSuccess builds the error for when every agent failed, naming each one
// so the user does not have to dig through logs to learn why.
func noSuccess(results []Result) error {
	errs := []error{ErrNoSuccess}
	for i, r := range results {
		errs = append(errs, fmt.Errorf("%s: %w", name(i, r), r.Err))
	}
	return errors.Join(errs...)
}

// failedNote tells which agents were left out because they failed, or
// nothing when none did.
func failedNote(results []Result) string {
	var failed []string
	for i, r := range results {
		if r.Err != nil {
			failed = append(failed, name(i, r))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return fmt.Sprintf("; %d failed: %s", len(failed), strings.Join(failed, ", "))
}

// name is how the user sees an agent: its ID, or its position when a
// caller left the ID empty.
func name(i int, r Result) string {
	if r.AgentID != "" {
		return r.AgentID
	}
	return fmt.Sprintf("agent #%d", i+1)
}
