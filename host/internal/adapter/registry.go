package adapter

import "sort"

var adapters = map[string]Adapter{}

func register(a Adapter) { adapters[a.Type()] = a }

func init() {
	register(Custom{})
	register(Aider{})
	register(Claude{})
	register(Codex{})
	register(Gemini{})
}

// For returns the adapter for an agent type.
func For(agentType string) (Adapter, bool) {
	a, ok := adapters[agentType]
	return a, ok
}

// Types lists the agent types, sorted.
func Types() []string {
	var out []string
	for t := range adapters {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
