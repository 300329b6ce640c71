package agents

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/parallax/parallax/host/internal/adapter"
)

// PolicyError is a spawn request the server's settings forbid, though it
// is well formed. Field names the JSON field.
type PolicyError struct {
	Field string
	Msg   string
}

func (e *PolicyError) Error() string { return e.Field + ": " + e.Msg }

// Policy narrows what callers may run, for hosts shared by several of
// them. The zero Policy allows everything: the token grants what a shell
// login grants (see SECURITY.md).
type Policy struct {
	// NoCommands refuses the "custom" type and command overrides.
	NoCommands bool
	// EnvAllowlist, if not empty, lists the env names (path.Match
	// patterns) a request may set.
	EnvAllowlist []string
}

func (p Policy) check(r SpawnRequest) error {
	if p.NoCommands {
		if r.Type == adapter.CustomType {
			return &PolicyError{"type", `"custom" runs any command, and this host has server { allow_commands = false }; use one of the agent types`}
		}
		if len(r.Command) > 0 {
			return &PolicyError{"command", "this host has server { allow_commands = false }: leave command out, and the agent type's own is run"}
		}
	}
	if len(p.EnvAllowlist) == 0 {
		return nil
	}
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same name is reported every time
	for _, k := range keys {
		if !p.envAllowed(k) {
			return &PolicyError{"env", fmt.Sprintf("%q is not in server.env_allowlist (%s); leave it out, or ask the operator to add it",
				k, strings.Join(p.EnvAllowlist, ", "))}
		}
	}
	return nil
}

func (p Policy) envAllowed(name string) bool {
	for _, pat := range p.EnvAllowlist {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}
