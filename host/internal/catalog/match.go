package catalog

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Requirement is what a pattern asks of the agents it picks.
type Requirement struct {
	// Capabilities must all be among the agent's.
	Capabilities []string
	// MinConfidence is the least expertise an agent must state, 0..1, in
	// its metadata "expertise". An agent that states none meets only a
	// minimum of 0.
	MinConfidence float64
	// Count is how many to pick; 0 means all that qualify.
	Count int
}

// Expertise reads an agent's stated expertise; ok is false when it states
// none or no number.
func Expertise(a Agent) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(a.Metadata["expertise"]), 64)
	return v, err == nil
}

// Match picks the agents that meet req, best first: healthy before
// unhealthy, then higher expertise, then lower load (what load returns for
// an id, such as its running tasks; nil means all equal), then by id so the
// order is stable.
func Match(agents []Agent, req Requirement, load func(id string) int) []Agent {
	type scored struct {
		a         Agent
		expertise float64
		load      int
	}
	var picks []scored
	for _, a := range agents {
		if !hasAll(a.Capabilities, req.Capabilities) {
			continue
		}
		e, ok := Expertise(a)
		if !ok {
			e = 0
		}
		if e < req.MinConfidence || (!ok && req.MinConfidence > 0) {
			continue
		}
		s := scored{a: a, expertise: e}
		if load != nil {
			s.load = load(a.ID)
		}
		picks = append(picks, s)
	}
	slices.SortFunc(picks, func(x, y scored) int {
		return cmp.Or(
			-cmpBool(x.a.Healthy, y.a.Healthy),
			-cmp.Compare(x.expertise, y.expertise),
			cmp.Compare(x.load, y.load),
			strings.Compare(x.a.ID, y.a.ID),
		)
	})
	if req.Count > 0 && len(picks) > req.Count {
		picks = picks[:req.Count]
	}
	out := make([]Agent, len(picks))
	for i, p := range picks {
		out[i] = p.a
	}
	return out
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return 1
	}
	return -1
}
