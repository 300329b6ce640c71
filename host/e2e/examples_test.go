package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example patterns run as shipped, with their fake agents, through
// the CLI a user would type; only the address and paths are the test's.
func TestExamplePatternsRun(t *testing.T) {
	dir, err := filepath.Abs("../../examples/patterns")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "config.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "fake-agent.sh")
	cfg := string(src)
	for _, r := range [][2]string{
		{`listen   = "127.0.0.1:3000"`, `listen = "127.0.0.1:0"`},
		{`data_dir = "../../.parallax"`, `data_dir = ` + hclString(t.TempDir())},
		{`plugin_dir = "../../bin/plugins"`, `plugin_dir = ` + hclString(bins.plugins)},
		{`"./fake-agent.sh"`, hclString(script)},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("the example config no longer has %s; update this test", r[0])
		}
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	path := filepath.Join(t.TempDir(), "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, path)

	tests := []struct {
		pattern, input string
		wantOut        string   // in stdout: the result
		wantProgress   []string // in stderr
	}{
		{"code-review", "files=auth.ts", "APPROVE", []string{"started", "completed"}},
		{"feature-team", "feature=password reset", "APPROVE", []string{"design", "implement", "review", "completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			stdout, stderr, code := h.cli("execute", tt.pattern, "--input", tt.input)
			if code != 0 || !strings.Contains(stdout, tt.wantOut) {
				t.Fatalf("execute %s: exit %d\nstdout %q\nstderr %q\nlog:\n%s", tt.pattern, code, stdout, stderr, h.logs())
			}
			for _, w := range tt.wantProgress {
				if !strings.Contains(stderr, w) {
					t.Errorf("progress lacks %q: %q", w, stderr)
				}
			}
			h.nothingLeft(script)
		})
	}
}
