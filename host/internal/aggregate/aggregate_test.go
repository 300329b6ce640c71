package aggregate

import (
	"errors"
	"math"
	"strings"
	"testing"
)

var (
	errBoom    = errors.New("boom")
	errTimeout = errors.New("timed out")
)

func ok(id, out string, conf float64) Result {
	return Result{AgentID: id, Output: out, Confidence: conf}
}

func failed(id string, err error) Result {
	return Result{AgentID: id, Err: err}
}

// want is what a strategy should produce: either an outcome (checked on
// Output, Confidence and, when set, Reasoning) or an error containing every
// string in errHas.
type want struct {
	output    string
	conf      float64
	reasoning string
	errHas    []string
}

func check(t *testing.T, got Outcome, err error, w want) {
	t.Helper()
	if len(w.errHas) > 0 {
		if err == nil {
			t.Fatalf("no error, want one containing %q; got %+v", w.errHas, got)
		}
		for _, s := range w.errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not contain %q", err, s)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got.Output != w.output {
		t.Errorf("Output = %q, want %q", got.Output, w.output)
	}
	if math.Abs(got.Confidence-w.conf) > 1e-9 {
		t.Errorf("Confidence = %v, want %v", got.Confidence, w.conf)
	}
	if w.reasoning != "" && got.Reasoning != w.reasoning {
		t.Errorf("Reasoning = %q, want %q", got.Reasoning, w.reasoning)
	}
}

func TestParallelCombinesEverySuccess(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    want
	}{
		{
			name:    "all succeed",
			results: []Result{ok("agent-1", "a\n", 0.8), ok("agent-2", "b", 0.4)},
			want: want{
				output:    "## agent-1 (confidence 0.80)\na\n\n## agent-2 (confidence 0.40)\nb",
				conf:      0.6,
				reasoning: "combined the answers of 2 of 2 agents",
			},
		},
		{
			name:    "one failed is left out of output and mean",
			results: []Result{ok("agent-1", "a", 0.8), failed("agent-2", errBoom), ok("agent-3", "c", 0.2)},
			want: want{
				output:    "## agent-1 (confidence 0.80)\na\n\n## agent-3 (confidence 0.20)\nc",
				conf:      0.5,
				reasoning: "combined the answers of 2 of 3 agents; 1 failed: agent-2",
			},
		},
		{
			name:    "confidences clamped, NaN is 0",
			results: []Result{ok("agent-1", "a", 7), ok("agent-2", "b", math.NaN()), ok("agent-3", "c", -2)},
			want: want{
				output: "## agent-1 (confidence 1.00)\na\n\n## agent-2 (confidence 0.00)\nb\n\n## agent-3 (confidence 0.00)\nc",
				conf:   1.0 / 3,
			},
		},
		{
			name:    "missing ID named by position",
			results: []Result{ok("", "a", 0.5), ok("agent-2", "b", 0.5)},
			want:    want{output: "## agent #1 (confidence 0.50)\na\n\n## agent-2 (confidence 0.50)\nb", conf: 0.5},
		},
		{
			name:    "one agent's answer is the output as it is",
			results: []Result{{AgentID: "agent-1", Output: "a\n", Confidence: 0.7, Reasoning: "because"}},
			want:    want{output: "a\n", conf: 0.7, reasoning: "because"},
		},
		{
			name:    "all failed lists each failure",
			results: []Result{failed("agent-1", errBoom), failed("agent-2", errTimeout)},
			want:    want{errHas: []string{"no agent succeeded", "agent-1: boom", "agent-2: timed out"}},
		},
		{
			name: "no results",
			want: want{errHas: []string{"no agent succeeded"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parallel(tt.results)
			check(t, got, err, tt.want)
		})
	}
}

func TestBestPicksTheMostConfident(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    want
	}{
		{
			name:    "highest confidence wins",
			results: []Result{ok("agent-1", "a", 0.3), ok("agent-2", "b", 0.9), ok("agent-3", "c", 0.5)},
			want: want{
				output:    "b",
				conf:      0.9,
				reasoning: "agent-2 was the most confident (0.90) of 3 successful agents",
			},
		},
		{
			name:    "tie goes to the earlier",
			results: []Result{ok("agent-1", "a", 0.3), ok("agent-2", "b", 0.7), ok("agent-3", "c", 0.7)},
			want:    want{output: "b", conf: 0.7},
		},
		{
			name:    "a failed agent never wins",
			results: []Result{{AgentID: "agent-1", Output: "partial", Confidence: 1, Err: errBoom}, ok("agent-2", "b", 0.2)},
			want: want{
				output:    "b",
				conf:      0.2,
				reasoning: "agent-2 was the most confident (0.20) of 1 successful agents; 1 failed: agent-1",
			},
		},
		{
			name:    "out-of-range confidence clamped, ties with 1.0, earlier wins",
			results: []Result{ok("agent-1", "a", 1), ok("agent-2", "b", 50)},
			want:    want{output: "a", conf: 1},
		},
		{
			name:    "NaN loses to any real confidence",
			results: []Result{ok("agent-1", "a", math.NaN()), ok("agent-2", "b", 0.1)},
			want:    want{output: "b", conf: 0.1},
		},
		{
			name:    "all failed",
			results: []Result{failed("agent-1", errBoom), failed("agent-2", errTimeout)},
			want:    want{errHas: []string{"agent-1: boom", "agent-2: timed out"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Best(tt.results)
			check(t, got, err, tt.want)
		})
	}
}

func TestSequentialTakesTheLastStep(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    want
	}{
		{
			name:    "last step's result",
			results: []Result{ok("agent-1", "draft", 0.9), ok("agent-2", "final", 0.6)},
			want:    want{output: "final", conf: 0.6, reasoning: "result of the last of 2 steps (agent-2)"},
		},
		{
			name:    "an earlier failure does not matter if the end succeeded",
			results: []Result{failed("agent-1", errBoom), ok("agent-2", "final", 0.6)},
			want:    want{output: "final", conf: 0.6},
		},
		{
			name:    "last step failed names it",
			results: []Result{ok("agent-1", "draft", 0.9), failed("agent-2", errTimeout)},
			want:    want{errHas: []string{"last of 2 steps (agent-2) failed", "timed out"}},
		},
		{
			name:    "clamped",
			results: []Result{ok("agent-1", "final", 1.5)},
			want:    want{output: "final", conf: 1},
		},
		{
			name: "no steps",
			want: want{errHas: []string{"no agent succeeded"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sequential(tt.results)
			check(t, got, err, tt.want)
		})
	}
}

func TestSequentialWrapsTheStepError(t *testing.T) {
	_, err := Sequential([]Result{failed("agent-1", errTimeout)})
	if !errors.Is(err, errTimeout) {
		t.Fatalf("error %v does not wrap the step's error", err)
	}
}

func TestNoSuccessIsMatchable(t *testing.T) {
	all := []Result{failed("agent-1", errBoom)}
	for _, name := range Strategies {
		if name == "sequential" {
			continue // a failed last step is reported as such, see TestSequentialTakesTheLastStep
		}
		f, _ := ByStrategy(name)
		_, err := f(all)
		if !errors.Is(err, ErrNoSuccess) || !errors.Is(err, errBoom) {
			t.Errorf("%s: error %v does not wrap ErrNoSuccess and the agent's error", name, err)
		}
	}
}

func TestResultsAreClampedCopies(t *testing.T) {
	in := []Result{ok("agent-1", "a", math.NaN()), ok("agent-2", "b", 3)}
	got, err := Parallel(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Results[0].Confidence != 0 || got.Results[1].Confidence != 1 {
		t.Errorf("Results confidences = %v, %v; want 0, 1", got.Results[0].Confidence, got.Results[1].Confidence)
	}
	if in[1].Confidence != 3 {
		t.Errorf("caller's slice was modified: %v", in[1].Confidence)
	}
}

func TestByStrategy(t *testing.T) {
	for _, name := range Strategies {
		if f, found := ByStrategy(name); !found || f == nil {
			t.Errorf("ByStrategy(%q) not found", name)
		}
	}
	for _, name := range []string{"", "Parallel", "vote"} {
		if _, found := ByStrategy(name); found {
			t.Errorf("ByStrategy(%q) found, want not", name)
		}
	}
}
