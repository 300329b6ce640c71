package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoadWarmPool(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, `runtime "local" {}
runtime "docker" {
  warm_pool {
    codex = 1
  }
}
warm_pool {
  claude = 2
  aider  = 1
  gemini = 0
}
`, "local", "docker"))
	var got []string
	for _, p := range cfg.WarmPool {
		got = append(got, fmt.Sprintf("%s@%q=%d line %d", p.Type, p.Runtime, p.Size, p.DeclRange.Start.Line))
	}
	// Zero means no pool; the top-level block comes first.
	want := []string{`claude@""=2 line 8`, `aider@""=1 line 9`, `codex@"docker"=1 line 4`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WarmPool = %q, want %q", got, want)
	}
	if cfg := mustLoad(t, writeConfig(t, `runtime "local" {}`, "local")); cfg.WarmPool != nil {
		t.Errorf("WarmPool without a block = %+v, want none", cfg.WarmPool)
	}
}

func TestLoadWarmPoolErrors(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct {
		name    string
		src     string
		summary string
		detail  []string // substrings, the field among them
		pos     string
	}{
		{"unknown type lists the known ones", local + "warm_pool {\n  cursor = 1\n}\n",
			"Unknown agent type", []string{`warm_pool: "cursor"`, "aider, claude, codex, gemini"}, "3:3"},
		{"custom", local + "warm_pool {\n  custom = 1\n}\n",
			"Custom agents can't be pooled", []string{"warm_pool custom", "command in each request"}, "3:3"},
		{"negative count", local + "warm_pool {\n  claude = -1\n}\n",
			"Invalid claude", []string{"warm_pool claude", "whole number from 0 to 100", "got -1"}, "3:12"},
		{"fractional count", local + "warm_pool {\n  claude = 1.5\n}\n",
			"Invalid claude", []string{"warm_pool claude", "whole number"}, "3:12"},
		{"too many", local + "warm_pool {\n  claude = 101\n}\n",
			"Invalid claude", []string{"warm_pool claude", "from 0 to 100"}, "3:12"},
		{"not a number", local + "warm_pool {\n  claude = \"two\"\n}\n",
			"Invalid value for claude", []string{"warm_pool claude must be a number"}, "3:12"},
		{"runtime label says where per-runtime pools go", local + "warm_pool \"docker\" {\n  claude = 1\n}\n",
			"Extraneous label for warm_pool", []string{`runtime "docker" { warm_pool { claude = 1 } }`}, "2:11"},
		{"nested block", local + "warm_pool {\n  claude {}\n}\n",
			"Unexpected \"claude\" block", nil, "3:3"},
		{"duplicate block", local + "warm_pool {\n  claude = 1\n}\nwarm_pool {\n  codex = 1\n}\n",
			"Duplicate warm_pool block", []string{"warm_pool is already at line 2", "merge"}, "5:1"},
		{"unknown type in a runtime's pool", "runtime \"local\" {\n  warm_pool {\n    claud = 1\n  }\n}\n",
			"Unknown agent type", []string{`runtime "local" warm_pool: "claud"`}, "3:5"},
		{"negative count in a runtime's pool", "runtime \"local\" {\n  warm_pool {\n    codex = -2\n  }\n}\n",
			"Invalid codex", []string{`runtime "local" warm_pool codex`, "from 0 to 100"}, "3:13"},
		{"pool on a disabled runtime", local + "runtime \"docker\" {\n  enabled = false\n  warm_pool {\n    claude = 1\n  }\n}\n",
			"Warm pool on a disabled runtime", []string{`runtime "docker" warm_pool`, "enable the runtime or remove the pool"}, "4:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src, "local")
			cfg, diags := Load(path)
			if cfg != nil {
				t.Errorf("Load returned a config along with errors")
			}
			d := onlyError(t, diags, tt.summary, tt.detail)
			if d.Subject.Filename != path {
				t.Errorf("subject = %v, want a range in %s", d.Subject, filepath.Base(path))
			}
			if got := posOf(d); got != tt.pos {
				t.Errorf("at %s, want %s", got, tt.pos)
			}
		})
	}
}
