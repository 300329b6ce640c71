package aggregate

import (
	"math"
	"testing"
)

func TestConsensusPicksTheHeaviestGroup(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    want
	}{
		{
			name:    "unanimous after normalising",
			results: []Result{ok("agent-1", "  The Answer is\n42 ", 0.6), ok("agent-2", "the answer is 42", 0.8)},
			want:    want{output: "the answer is 42", conf: 1, reasoning: "2 of 2 agents agreed (weight 1.40 of 1.40)"},
		},
		{
			name: "2-1: the pair's weight beats the single more confident one",
			results: []Result{
				ok("agent-1", "42", 0.6),
				ok("agent-2", "41", 0.9),
				ok("agent-3", "42", 0.5),
			},
			want: want{
				output:    "42",
				conf:      1.1 / 2.0,
				reasoning: "2 of 3 agents agreed (weight 1.10 of 2.00); the others: 1 (weight 0.90)",
			},
		},
		{
			name: "1-2: one very confident beats two weak ones",
			results: []Result{
				ok("agent-1", "42", 0.3),
				ok("agent-2", "41", 0.95),
				ok("agent-3", "42", 0.4),
			},
			want: want{
				output:    "41",
				conf:      0.95 / 1.65,
				reasoning: "1 of 3 agents agreed (weight 0.95 of 1.65); the others: 2 (weight 0.70)",
			},
		},
		{
			name: "output is the most confident of the winning group",
			results: []Result{
				ok("agent-1", "Yes", 0.5),
				ok("agent-2", "yes.  ", 0.7),
				ok("agent-3", "No", 0.2),
			},
			want: want{output: "yes.  ", conf: 1.2 / 1.4},
		},
		{
			name: "verdict word on the first line groups different texts",
			results: []Result{
				ok("agent-1", "Approve. Tests pass.", 0.6),
				ok("agent-2", "**APPROVED**: one nit in the README", 0.5),
				ok("agent-3", "Reject\nthe migration drops a column", 0.9),
			},
			want: want{
				output:    "Approve. Tests pass.",
				conf:      1.1 / 2.0,
				reasoning: `2 of 3 agents agreed on "approve" (weight 1.10 of 2.00); the others: 1 (weight 0.90)`,
			},
		},
		{
			name: "verdict only counts as the first word",
			results: []Result{
				ok("agent-1", "I approve", 0.5),
				ok("agent-2", "I reject", 0.5),
				ok("agent-3", "i approve", 0.5),
			},
			want: want{output: "I approve", conf: 1.0 / 1.5},
		},
		{
			name: "weight tie goes to the larger group",
			results: []Result{
				ok("agent-1", "a", 0.8),
				ok("agent-2", "b", 0.4),
				ok("agent-3", "b", 0.4),
			},
			want: want{output: "b", conf: 0.5},
		},
		{
			name: "weight tie within rounding still ties",
			results: []Result{
				ok("agent-1", "a", 0.3),
				ok("agent-2", "b", 0.1),
				ok("agent-3", "b", 0.2),
			},
			want: want{output: "b", conf: 0.3 / 0.6},
		},
		{
			name: "full tie goes to the earliest group",
			results: []Result{
				ok("agent-1", "a", 0.5),
				ok("agent-2", "b", 0.5),
			},
			want: want{output: "a", conf: 0.5},
		},
		{
			name: "clamping stops one agent from dominating",
			results: []Result{
				ok("agent-1", "41", 100),
				ok("agent-2", "42", 0.6),
				ok("agent-3", "42", 0.6),
			},
			want: want{output: "42", conf: 1.2 / 2.2},
		},
		{
			name: "NaN weighs nothing",
			results: []Result{
				ok("agent-1", "41", math.NaN()),
				ok("agent-2", "42", 0.1),
			},
			want: want{output: "42", conf: 1},
		},
		{
			name: "all confidences zero: larger group wins with confidence 0",
			results: []Result{
				ok("agent-1", "41", 0),
				ok("agent-2", "42", 0),
				ok("agent-3", "42", 0),
			},
			want: want{output: "42", conf: 0},
		},
		{
			name: "failed agents are not counted",
			results: []Result{
				{AgentID: "agent-1", Output: "41", Confidence: 1, Err: errBoom},
				ok("agent-2", "42", 0.5),
			},
			want: want{
				output:    "42",
				conf:      1,
				reasoning: "1 of 1 agents agreed (weight 0.50 of 0.50); 1 failed: agent-1",
			},
		},
		{
			name:    "all failed",
			results: []Result{failed("agent-1", errBoom), failed("agent-2", errTimeout)},
			want:    want{errHas: []string{"no agent succeeded", "agent-1: boom", "agent-2: timed out"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Consensus(tt.results)
			check(t, got, err, tt.want)
		})
	}
}

func TestAgreementKey(t *testing.T) {
	tests := []struct {
		a, b  string
		agree bool
	}{
		{"Hello   World", "hello world\n", true},
		{"hello world", "hello, world", false},
		{"yes", "Yes!", true},
		{"Yes, because X", "yes because Y", true},
		{"no", "No.\nNot safe.", true},
		{"yes", "no", false},
		{"approve", "approves the change", true},
		{"approve", "yes", false},
		{"", "   ", true},
		{"nothing to add", "no", false}, // "nothing" is not the verdict "no"
	}
	for _, tt := range tests {
		ka, _ := agreementKey(tt.a)
		kb, _ := agreementKey(tt.b)
		if (ka == kb) != tt.agree {
			t.Errorf("agree(%q, %q) = %v, want %v", tt.a, tt.b, ka == kb, tt.agree)
		}
	}
}
