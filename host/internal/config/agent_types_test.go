package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/adapter"
)

// The agent types are adapter's: a type added there is configurable and,
// if adapter says so, poolable without a change here, and config accepts
// no type adapter doesn't know.
func TestAgentTypesFollowAdapter(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	for _, typ := range adapter.Types() {
		t.Run(typ, func(t *testing.T) {
			cfg := mustLoad(t, writeConfig(t, local+"agent_type \""+typ+"\" {\n  args = [\"-v\"]\n}\n", "local"))
			if at := cfg.AgentType(typ); at.Name != typ || !slices.Equal(at.Args, []string{"-v"}) {
				t.Errorf("agent_type %q {} = %+v", typ, at)
			}
			cfg = mustLoad(t, writeConfig(t, local+"pattern \"p\" {\n  agents {\n    capabilities = [\"x\"]\n    agent_type = \""+typ+"\"\n  }\n  task = \"t\"\n}\n", "local"))
			if got := cfg.Patterns["p"].Agents.AgentType; got != typ {
				t.Errorf("pattern agents agent_type = %q, want %q", got, typ)
			}

			cfg, diags := Load(writeConfig(t, local+"warm_pool {\n  "+typ+" = 1\n}\n", "local"))
			if adapter.Poolable(typ) {
				if diags.HasErrors() || len(cfg.WarmPool) != 1 || cfg.WarmPool[0].Type != typ {
					t.Errorf("warm_pool { %s = 1 }: pools %+v, errors:\n%s", typ, cfg, formatDiags(diags))
				}
				return
			}
			errs := errorsOf(diags)
			if len(errs) != 1 {
				t.Fatalf("warm_pool { %s = 1 } of a type adapter can't pool: %d errors, want 1:\n%s", typ, len(errs), formatDiags(diags))
			}
			// A known type is refused with why, not as an unknown one.
			if d := errs[0]; d.Summary == "Unknown agent type" {
				t.Errorf("warm_pool { %s = 1 }: %s: %s; want it to say why %s agents can't be pooled", typ, d.Summary, d.Detail, typ)
			}
		})
	}
}

func TestUnknownAgentTypeListsAdapters(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct{ name, src, want string }{
		{"agent_type", local + "agent_type \"cursor\" {}\n", strings.Join(adapter.Types(), ", ")},
		{"pattern", local + "pattern \"p\" {\n  agents {\n    capabilities = [\"x\"]\n    agent_type = \"cursor\"\n  }\n  task = \"t\"\n}\n",
			strings.Join(adapter.Types(), ", ")},
		{"warm_pool", local + "warm_pool {\n  cursor = 1\n}\n", strings.Join(adapter.PoolableTypes(), ", ") + "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(writeConfig(t, tt.src, "local"))
			onlyError(t, diags, "Unknown agent type", []string{tt.want})
		})
	}
}

// TestNoAgentTypeListHere keeps config from knowing agent types by name:
// they are adapter's (see TestAgentTypesFollowAdapter).
func TestNoAgentTypeListHere(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && slices.Contains(adapter.Types(), s) {
				t.Errorf("%s: %s names an agent type; ask adapter instead", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
}
