package aggregate

import (
	"fmt"
	"math"
	"strings"
	"unicode"
)

// verdicts maps the leading words Consensus treats as a verdict to the
// verdict they state.
var verdicts = map[string]string{
	"approve": "approve", "approved": "approve", "approves": "approve",
	"reject": "reject", "rejected": "reject", "rejects": "reject",
	"yes": "yes",
	"no":  "no",
}

// weightEpsilon absorbs float rounding when two groups' weights are
// compared for a tie (0.1+0.2 must tie with 0.3).
const weightEpsilon = 1e-9

// group is the successful results that agree with each other.
type group struct {
	verdict string // empty when grouped by the whole text
	members []int  // positions in the results, in order
	weight  float64
}

// Consensus picks the answer the agents agree on most, weighing each agent
// by its confidence: the heaviest group of agreeing answers wins (ties go
// to the larger group, then to the group whose first answer came first).
// The output is the most confident answer in that group, and the
// confidence is the group's share of the total weight.
//
// Two outputs agree when either
//
//   - both start with the same verdict: the first word of the first line,
//     stripped of surrounding non-letters (so "**Approve**:" counts) and
//     case-folded, is one of approve/approved/approves, reject/rejected/
//     rejects, yes or no, and the two map to the same verdict; or
//   - neither starts with a verdict and their normalised texts are equal:
//     trimmed, every run of whitespace made one space, lower-cased.
//
// A verdict decides alone: "Approve. Tests pass." and "approved, one nit"
// agree, and the rest of the text is not compared. Each output gets one grouping key, so agreement is
// transitive and the groups do not depend on the order of the results.
func Consensus(results []Result) (Outcome, error) {
	in := clamped(results)
	ok := succeeded(in)
	if len(ok) == 0 {
		return Outcome{}, noSuccess(in)
	}

	var groups []*group
	byKey := map[string]*group{}
	total := 0.0
	for _, i := range ok {
		key, verdict := agreementKey(in[i].Output)
		g := byKey[key]
		if g == nil {
			g = &group{verdict: verdict}
			byKey[key] = g
			groups = append(groups, g) // in order of first member
		}
		g.members = append(g.members, i)
		g.weight += in[i].Confidence
		total += in[i].Confidence
	}

	win := groups[0]
	for _, g := range groups[1:] {
		if heavier(g, win) {
			win = g
		}
	}
	best := win.members[0]
	for _, i := range win.members[1:] {
		if in[i].Confidence > in[best].Confidence {
			best = i
		}
	}

	conf := 0.0
	if total > 0 {
		conf = win.weight / total
	}
	return Outcome{
		Output:     in[best].Output,
		Confidence: conf,
		Reasoning:  split(win, groups, len(ok), total) + failedNote(in),
		Results:    in,
	}, nil
}

// heavier reports whether g beats the current winner. Groups come in order
// of their first member, so keeping the winner on a full tie keeps the
// earliest.
func heavier(g, win *group) bool {
	if math.Abs(g.weight-win.weight) > weightEpsilon {
		return g.weight > win.weight
	}
	return len(g.members) > len(win.members)
}

// agreementKey returns the key outputs that agree share, and the verdict
// when the output starts with one.
func agreementKey(output string) (key, verdict string) {
	text := strings.TrimSpace(output)
	first, _, _ := strings.Cut(text, "\n")
	if words := strings.Fields(first); len(words) > 0 {
		word := strings.TrimFunc(words[0], func(r rune) bool { return !unicode.IsLetter(r) })
		if v, ok := verdicts[strings.ToLower(word)]; ok {
			return "verdict:" + v, v
		}
	}
	return "text:" + strings.ToLower(strings.Join(strings.Fields(text), " ")), ""
}

// split tells the user how the agents divided, e.g.
// `2 of 3 agents agreed on "approve" (weight 1.20 of 2.10); the others: 1 (weight 0.90)`.
func split(win *group, groups []*group, n int, total float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d agents agreed", len(win.members), n)
	if win.verdict != "" {
		fmt.Fprintf(&b, " on %q", win.verdict)
	}
	fmt.Fprintf(&b, " (weight %.2f of %.2f)", win.weight, total)
	var others []string
	for _, g := range groups {
		if g != win {
			others = append(others, fmt.Sprintf("%d (weight %.2f)", len(g.members), g.weight))
		}
	}
	if len(others) > 0 {
		b.WriteString("; the others: " + strings.Join(others, ", "))
	}
	return b.String()
}
