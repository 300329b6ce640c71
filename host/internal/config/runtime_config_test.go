package config

import (
	"testing"

	"github.com/parallax/parallax/sdk/runtime"
)

var testSchema = []runtime.ConfigAttr{
	{Name: "state_dir", Type: "string", Required: true},
	{Name: "max_agents", Type: "number"},
	{Name: "debug", Type: "bool"},
	{Name: "networks", Type: "list(string)"},
	{Name: "images", Type: "map(string)"},
	{Name: "extra", Type: "any"},
}

// loadRuntime loads a config holding just runtime "local" with the given
// body and returns that runtime.
func loadRuntime(t *testing.T, body string) Runtime {
	t.Helper()
	cfg := mustLoad(t, writeConfig(t, "runtime \"local\" {\n"+body+"}\n", "local"))
	return cfg.Runtimes[0]
}

func TestDecodeRuntimeConfig(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		schema []runtime.ConfigAttr
		want   string
	}{
		{
			name: "every type",
			body: `config {
  state_dir  = "/tmp/x"
  max_agents = 4
  debug      = true
  networks   = ["a", "b"]
  images     = { claude = "img/claude:1", codex = "img/codex:1" }
  extra      = { n = 1 }
}
`,
			schema: testSchema,
			want:   `{"debug":true,"extra":{"n":1},"images":{"claude":"img/claude:1","codex":"img/codex:1"},"max_agents":4,"networks":["a","b"],"state_dir":"/tmp/x"}`,
		},
		{
			name:   "unset optional attributes are left out",
			body:   "config {\n  state_dir = \"/tmp/x\"\n}\n",
			schema: testSchema,
			want:   `{"state_dir":"/tmp/x"}`,
		},
		{
			name:   "values are converted to the declared type",
			body:   "config {\n  state_dir = 42\n  max_agents = \"7\"\n  debug = \"false\"\n}\n",
			schema: testSchema,
			want:   `{"debug":false,"max_agents":7,"state_dir":"42"}`,
		},
		{
			name:   "functions",
			body:   "config {\n  state_dir = env(\"PARALLAX_TEST_STATE\")\n}\n",
			schema: testSchema,
			want:   `{"state_dir":"/from/env"}`,
		},
		{
			name:   "absent block",
			schema: testSchema[1:],
			want:   `{}`,
		},
		{
			name: "absent block, no schema",
			want: `{}`,
		},
		{
			name: "empty block, no schema",
			body: "config {}\n",
			want: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PARALLAX_TEST_STATE", "/from/env")
			rt := loadRuntime(t, tt.body)

			got, diags := DecodeRuntimeConfig(rt, tt.schema)

			if diags.HasErrors() {
				t.Fatalf("DecodeRuntimeConfig: %s", formatDiags(diags))
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodeRuntimeConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		schema  []runtime.ConfigAttr
		summary string
		detail  []string
		pos     string
	}{
		{
			name:    "unknown attribute close to a known one",
			body:    "config {\n  state_dir = \"x\"\n  debugg = true\n}\n",
			schema:  testSchema,
			summary: "Unsupported argument",
			detail:  []string{`Did you mean "debug"?`},
			pos:     "4:3",
		},
		{
			name:    "unknown attribute lists known ones",
			body:    "config {\n  state_dir = \"x\"\n  colour = \"red\"\n}\n",
			schema:  testSchema,
			summary: "Unsupported argument",
			detail:  []string{`"colour"`, "state_dir, max_agents, debug, networks, images, extra"},
			pos:     "4:3",
		},
		{
			name:    "block instead of attribute",
			body:    "config {\n  state_dir = \"x\"\n  images {}\n}\n",
			schema:  testSchema,
			summary: "Unsupported block type",
			detail:  []string{`Did you mean to define argument "images"?`},
			pos:     "4:3",
		},
		{
			name:    "wrong type",
			body:    "config {\n  state_dir = \"x\"\n  networks = \"bridge\"\n}\n",
			schema:  testSchema,
			summary: "Incorrect attribute value type",
			detail:  []string{"list of string required"},
			pos:     "4:14",
		},
		{
			name:    "wrong element type",
			body:    "config {\n  state_dir = \"x\"\n  images = { claude = [\"a\"] }\n}\n",
			schema:  testSchema,
			summary: "Incorrect attribute value type",
			pos:     "4:12",
		},
		{
			name:    "missing required attribute",
			body:    "config {\n  debug = true\n}\n",
			schema:  testSchema,
			summary: "Missing required argument",
			detail:  []string{`"state_dir"`},
			pos:     "2:8", // the block's opening brace
		},
		{
			name:    "absent block with required attribute",
			schema:  testSchema,
			summary: "Missing config block",
			detail:  []string{`runtime "local" needs a config block that sets "state_dir"`},
			pos:     "1:1",
		},
		{
			name:    "invalid type in schema blames the plugin",
			body:    "config {\n  x = 1\n}\n",
			schema:  []runtime.ConfigAttr{{Name: "x", Type: "strin"}},
			summary: "Invalid config schema in runtime plugin",
			detail:  []string{"parallax-runtime-local", `attribute "x" has type "strin"`, "bug in the plugin"},
			pos:     "1:1",
		},
		{
			name:    "unparsable type in schema blames the plugin",
			schema:  []runtime.ConfigAttr{{Name: "x", Type: "list(string"}},
			summary: "Invalid config schema in runtime plugin",
			detail:  []string{`"list(string"`},
			pos:     "1:1",
		},
		{
			name:    "invalid name in schema blames the plugin",
			schema:  []runtime.ConfigAttr{{Name: "state dir", Type: "string"}},
			summary: "Invalid config schema in runtime plugin",
			detail:  []string{`"state dir" is not an HCL identifier`},
			pos:     "1:1",
		},
		{
			name:    "duplicate name in schema blames the plugin",
			schema:  []runtime.ConfigAttr{{Name: "a", Type: "string"}, {Name: "a", Type: "number"}},
			summary: "Invalid config schema in runtime plugin",
			detail:  []string{`"a" is declared twice`},
			pos:     "1:1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := loadRuntime(t, tt.body)

			got, diags := DecodeRuntimeConfig(rt, tt.schema)

			if got != nil {
				t.Errorf("got JSON %s along with errors", got)
			}
			d := onlyError(t, diags, tt.summary, tt.detail)
			if d.Subject.Filename != rt.DeclRange.Filename {
				t.Errorf("subject file = %q, want %q", d.Subject.Filename, rt.DeclRange.Filename)
			}
			if got := posOf(d); got != tt.pos {
				t.Errorf("at %s, want %s", got, tt.pos)
			}
		})
	}
}
