package adapter

import "sort"

// CustomType is the agent type that runs any command (see Custom).
const CustomType = "custom"

// Def is one agent type: its Adapter and what the host does differently
// for it beyond starting it and reading its screen.
type Def struct {
	Adapter
	// Poolable says a warm pool may hold agents of the type. A custom
	// agent needs a command in each request, so a pooled one could never
	// be taken.
	Poolable bool
	// KeyEnv is the env var the CLI reads its API key from, the one a key
	// provided for a waiting agent is passed in; "" when it reads no single
	// one (aider reads each provider's, a custom program any).
	KeyEnv string
}

var defs = map[string]Def{}

func register(d Def) { defs[d.Type()] = d }

func init() {
	register(Def{Adapter: Custom{}})
	register(Def{Adapter: Aider{}, Poolable: true})
	register(Def{Adapter: Claude{}, Poolable: true, KeyEnv: "ANTHROPIC_API_KEY"})
	register(Def{Adapter: Codex{}, Poolable: true, KeyEnv: "OPENAI_API_KEY"})
	register(Def{Adapter: Gemini{}, Poolable: true, KeyEnv: "GEMINI_API_KEY"})
}

// For returns the adapter for an agent type.
func For(agentType string) (Adapter, bool) {
	d, ok := defs[agentType]
	return d.Adapter, ok
}

// Types lists the agent types, sorted.
func Types() []string { return typesWhere(func(Def) bool { return true }) }

// PoolableTypes lists the agent types a warm pool may hold, sorted.
func PoolableTypes() []string { return typesWhere(func(d Def) bool { return d.Poolable }) }

// Poolable says a warm pool may hold agents of agentType; false for an
// unknown type.
func Poolable(agentType string) bool { return defs[agentType].Poolable }

// CredentialEnv is the env var agentType's CLI reads its API key from, or
// "" when it reads no single one or the type is unknown. Credentials.With
// sets a key by it.
func CredentialEnv(agentType string) string { return defs[agentType].KeyEnv }

func typesWhere(keep func(Def) bool) []string {
	var out []string
	for t, d := range defs {
		if keep(d) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
