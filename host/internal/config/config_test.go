package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// writeConfig writes src as parallax.hcl into a new directory, with a
// runnable fake plugin in bin/plugins for each name in plugins, and returns
// the file's path.
func writeConfig(t *testing.T, src string, plugins ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range plugins {
		writeFile(t, filepath.Join(dir, "bin", "plugins", "parallax-runtime-"+name), "#!/bin/sh\n", 0o755)
	}
	path := filepath.Join(dir, "parallax.hcl")
	writeFile(t, path, src, 0o644)
	return path
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diags.Error())
	}
	if cfg == nil {
		t.Fatal("Load returned neither a Config nor errors")
	}
	return cfg
}

func TestLoadFullExample(t *testing.T) {
	t.Setenv("PARALLAX_TEST_TOKEN", "s3cret")
	path := writeConfig(t, `
server {
  listen   = "127.0.0.1:4000"
  token    = env("PARALLAX_TEST_TOKEN")
  data_dir = "./state"
}
plugin_dir = "./bin/plugins"

runtime "local" {
  plugin   = "./bin/plugins/parallax-runtime-local"
  priority = 5
  enabled  = true
  config {
    state_dir = "/tmp/x"
  }
}
runtime "docker" {}
`, "local", "docker")
	dir := filepath.Dir(path)

	cfg := mustLoad(t, path)

	want := DefaultServer(filepath.Join(dir, "state"))
	want.Listen, want.Token = "127.0.0.1:4000", "s3cret"
	if !reflect.DeepEqual(cfg.Server, want) {
		t.Errorf("Server = %+v, want %+v", cfg.Server, want)
	}
	if cfg.PluginDir != filepath.Join(dir, "bin", "plugins") {
		t.Errorf("PluginDir = %q", cfg.PluginDir)
	}
	if len(cfg.Runtimes) != 2 {
		t.Fatalf("got %d runtimes, want 2", len(cfg.Runtimes))
	}

	local := cfg.Runtimes[0]
	if local.Name != "local" || !local.Enabled || local.Priority == nil || *local.Priority != 5 {
		t.Errorf("local = %+v", local)
	}
	if local.PluginPath != filepath.Join(dir, "bin", "plugins", "parallax-runtime-local") {
		t.Errorf("local.PluginPath = %q", local.PluginPath)
	}
	if local.ConfigBody == nil {
		t.Error("local.ConfigBody is nil, want the config block")
	}
	if got := fmt.Sprintf("%d:%d", local.DeclRange.Start.Line, local.DeclRange.Start.Column); got != "9:1" {
		t.Errorf("local.DeclRange starts at %s, want 9:1", got)
	}

	docker := cfg.Runtimes[1]
	if docker.Name != "docker" || !docker.Enabled || docker.Priority != nil || docker.ConfigBody != nil {
		t.Errorf("docker = %+v", docker)
	}
	if docker.PluginPath != filepath.Join(dir, "bin", "plugins", "parallax-runtime-docker") {
		t.Errorf("docker.PluginPath = %q", docker.PluginPath)
	}

	if string(cfg.Files[path]) == "" {
		t.Errorf("Files lacks %s", path)
	}
}

func TestLoadDefaults(t *testing.T) {
	path := writeConfig(t, `runtime "local" {}`, "local")
	dir := filepath.Dir(path)

	cfg := mustLoad(t, path)

	want := Server{Listen: "127.0.0.1:3000", DataDir: filepath.Join(dir, ".parallax"), HealthInterval: 15 * time.Second,
		MaxAgents: 200, MaxWatchersPerAgent: 32, MaxEventSubscribers: 256, IdleTimeout: time.Minute, AllowCommands: true, History: 168 * time.Hour}
	if !reflect.DeepEqual(cfg.Server, want) {
		t.Errorf("Server = %+v, want %+v", cfg.Server, want)
	}
	if cfg.PluginDir != filepath.Join(dir, "bin", "plugins") {
		t.Errorf("PluginDir = %q", cfg.PluginDir)
	}
	if rt := cfg.Runtimes[0]; !rt.Enabled || rt.Priority != nil || rt.ConfigBody != nil {
		t.Errorf("runtime = %+v, want enabled, default priority, no config", rt)
	}
}

func TestLoadNullMeansDefault(t *testing.T) {
	path := writeConfig(t, `
server {
  listen = null
  token  = null
}
plugin_dir = null
runtime "local" {
  plugin   = null
  priority = null
  enabled  = null
}
`, "local")

	cfg := mustLoad(t, path)

	rt := cfg.Runtimes[0]
	if cfg.Server.Listen != defaultListen || rt.Priority != nil || !rt.Enabled {
		t.Errorf("got %+v, %+v; want defaults", cfg.Server, rt)
	}
	if rt.PluginPath != filepath.Join(filepath.Dir(path), "bin", "plugins", "parallax-runtime-local") {
		t.Errorf("PluginPath = %q", rt.PluginPath)
	}
}

// Paths are relative to the config file, so the working directory must not
// matter.
func TestLoadResolvesPathsAgainstConfigDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, filepath.Join(home, "plugins", "parallax-runtime-home"), "", 0o755)

	path := writeConfig(t, `
server { data_dir = "../data" }
plugin_dir = "plugins"
runtime "local" { plugin = "custom/local-plugin" }
runtime "remote" {}
runtime "home" { plugin = "~/plugins/parallax-runtime-home" }
`)
	dir := filepath.Dir(path)
	writeFile(t, filepath.Join(dir, "custom", "local-plugin"), "", 0o755)
	writeFile(t, filepath.Join(dir, "plugins", "parallax-runtime-remote"), "", 0o755)
	t.Chdir(t.TempDir())

	cfg := mustLoad(t, path)

	for _, c := range []struct{ what, got, want string }{
		{"DataDir", cfg.Server.DataDir, filepath.Join(filepath.Dir(dir), "data")},
		{"PluginDir", cfg.PluginDir, filepath.Join(dir, "plugins")},
		{"local plugin", cfg.Runtimes[0].PluginPath, filepath.Join(dir, "custom", "local-plugin")},
		{"remote plugin", cfg.Runtimes[1].PluginPath, filepath.Join(dir, "plugins", "parallax-runtime-remote")},
		{"home plugin", cfg.Runtimes[2].PluginPath, filepath.Join(home, "plugins", "parallax-runtime-home")},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestLoadRelativeConfigPath(t *testing.T) {
	path := writeConfig(t, `runtime "local" {}`, "local")
	t.Chdir(filepath.Dir(path))

	cfg := mustLoad(t, "parallax.hcl")

	if !filepath.IsAbs(cfg.PluginDir) || !filepath.IsAbs(cfg.Runtimes[0].PluginPath) || !filepath.IsAbs(cfg.Server.DataDir) {
		t.Errorf("paths not absolute: %q %q %q", cfg.PluginDir, cfg.Runtimes[0].PluginPath, cfg.Server.DataDir)
	}
	if _, ok := cfg.Files["parallax.hcl"]; !ok {
		t.Error(`Files lacks "parallax.hcl", the name diagnostics use`)
	}
}

func TestFunctions(t *testing.T) {
	tests := []struct {
		name  string
		token string // the expression
		env   map[string]string
		files map[string]string // relative to the config dir
		want  string
	}{
		{name: "env", token: `env("PARALLAX_TEST_TOKEN")`, env: map[string]string{"PARALLAX_TEST_TOKEN": "from-env"}, want: "from-env"},
		{name: "env unset is empty", token: `env("PARALLAX_TEST_UNSET_VARIABLE")`, want: ""},
		{name: "file trims trailing newline", token: `file("token.txt")`, files: map[string]string{"token.txt": "from-file\n"}, want: "from-file"},
		{name: "file trims CRLF", token: `file("token.txt")`, files: map[string]string{"token.txt": "from-file\r\n\r\n"}, want: "from-file"},
		{name: "file keeps inner newlines", token: `file("token.txt")`, files: map[string]string{"token.txt": "a\nb\n"}, want: "a\nb"},
		{name: "file in subdirectory", token: `file("secrets/token")`, files: map[string]string{"secrets/token": "deep"}, want: "deep"},
		{name: "file path from env", token: `file(env("PARALLAX_TEST_FILE"))`, env: map[string]string{"PARALLAX_TEST_FILE": "t"}, files: map[string]string{"t": "both"}, want: "both"},
		{name: "template", token: `"Bearer ${env("PARALLAX_TEST_TOKEN")}"`, env: map[string]string{"PARALLAX_TEST_TOKEN": "x"}, want: "Bearer x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PARALLAX_TEST_UNSET_VARIABLE", "")
			os.Unsetenv("PARALLAX_TEST_UNSET_VARIABLE")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeConfig(t, "server { token = "+tt.token+" }\nruntime \"local\" {}\n", "local")
			for name, content := range tt.files {
				writeFile(t, filepath.Join(filepath.Dir(path), name), content, 0o600)
			}
			t.Chdir(t.TempDir()) // file() must not depend on the working directory

			cfg := mustLoad(t, path)

			if cfg.Server.Token != tt.want {
				t.Errorf("token = %q, want %q", cfg.Server.Token, tt.want)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct{ name, src string }{
		{"localhost without token", `server { listen = "localhost:3000" }`},
		{"IPv6 loopback without token", `server { listen = "[::1]:3000" }`},
		{"port 0", `server { listen = "127.0.0.1:0" }`},
		{"public with token", `server {
  listen = "0.0.0.0:3000"
  token  = "t"
}`},
		{"priority bounds", `runtime "zero" { priority = 0 }
runtime "max" { priority = 1000 }`},
		{"priority as whole float", `runtime "zero" { priority = 2.0 }`},
		{"disabled runtime needs no binary", `runtime "unbuilt" { enabled = false }`},
		{"name with digits and dashes", `runtime "k8s-prod-2" { enabled = false }`},
		{"comments and empty server", "# comment\nserver {}\n// another\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src+"\nruntime \"local\" {}\n", "local", "zero", "max")
			mustLoad(t, path)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct {
		name    string
		src     string
		setup   func(t *testing.T, dir string)
		summary string
		detail  []string // substrings; the file's directory replaces DIR
		pos     string   // line:col
	}{
		{
			name:    "agent without an endpoint",
			src:     local + "agent \"a1\" {\n  capabilities = [\"x\"]\n}\n",
			summary: "Missing required argument",
			detail:  []string{`"endpoint"`},
			pos:     "2:12",
		},
		{
			name:    "agent with a bad endpoint",
			src:     local + "agent \"a1\" {\n  endpoint = \"ftp://x:1\"\n}\n",
			summary: "Invalid endpoint",
			detail:  []string{`agent "a1" endpoint`, `scheme "ftp"`},
			pos:     "3:14",
		},
		{
			name:    "duplicate agent",
			src:     local + "agent \"a1\" {\n  endpoint = \"http://x:1\"\n}\nagent \"a1\" {\n  endpoint = \"http://x:2\"\n}\n",
			summary: "Duplicate agent",
			detail:  []string{"line 2"},
			pos:     "5:1",
		},
		{
			name:    "registry of an unknown kind",
			src:     local + "registry \"consul\" {\n  endpoints = [\"x\"]\n}\n",
			summary: "Unknown registry",
			detail:  []string{`registry "etcd"`},
			pos:     "2:10",
		},
		{
			name:    "registry prefix without slashes",
			src:     local + "registry \"etcd\" {\n  endpoints = [\"127.0.0.1:2379\"]\n  prefix = \"agents\"\n}\n",
			summary: "Invalid prefix",
			detail:  []string{`start and end with "/"`},
			pos:     "4:12",
		},
		{
			name:    "syntax error",
			src:     "server {\n  listen = \n}\n" + local,
			summary: "Invalid expression",
			pos:     "2:12",
		},
		{
			name:    "unknown attribute close to a known one",
			src:     local + "plugin_dirs = \"x\"\n",
			summary: "Unsupported argument",
			detail:  []string{`"plugin_dirs"`, `Did you mean "plugin_dir"?`},
			pos:     "2:1",
		},
		{
			name:    "unknown attribute lists known ones",
			src:     "server {\n  port = 3000\n}\n" + local,
			summary: "Unsupported argument",
			detail:  []string{`"port"`, "listen, token, token_file, data_dir"},
			pos:     "2:3",
		},
		{
			name:    "token and token_file",
			src:     "server {\n  token = \"a\"\n  token_file = \"t\"\n}\n" + local,
			summary: "Both token and token_file",
			pos:     "3:3",
		},
		{
			name:    "missing token file",
			src:     "server {\n  token_file = \"nope\"\n}\n" + local,
			summary: "Unreadable token file",
			detail:  []string{"DIR/nope", "openssl rand -hex 32"},
			pos:     "2:16",
		},
		{
			name:    "empty token file",
			src:     "server {\n  token_file = \"tok\"\n}\n" + local,
			setup:   func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "tok"), "\n", 0o600) },
			summary: "Unreadable token file",
			detail:  []string{"the file is empty"},
			pos:     "2:16",
		},
		{
			name:    "allowed workdir that does not exist",
			src:     "server {\n  allowed_workdirs = [\"/tmp\", \"./missing\"]\n}\n" + local,
			summary: "Invalid allowed workdir",
			detail:  []string{"server.allowed_workdirs[1]", "DIR/missing"},
			pos:     "2:22",
		},
		{
			name:    "allowed origin without its scheme",
			src:     "server {\n  allowed_origins = [\"app.example.com\"]\n}\n" + local,
			summary: "Invalid allowed origin",
			detail:  []string{"server.allowed_origins[0]", `"https://app.example.com"`},
			pos:     "2:21",
		},
		{
			name:    "allowed origin with a path",
			src:     "server {\n  allowed_origins = [\"https://app.example.com/ui\"]\n}\n" + local,
			summary: "Invalid allowed origin",
			detail:  []string{"server.allowed_origins[0]", "scheme://host[:port]"},
			pos:     "2:21",
		},
		{
			name:    "host with a port",
			src:     "server {\n  hosts = [\"example.com:3000\"]\n}\n" + local,
			summary: "Invalid host",
			detail:  []string{"server.hosts[0]", "without scheme or port"},
			pos:     "2:11",
		},
		{
			name:    "max_agents of zero",
			src:     "server {\n  max_agents = 0\n}\n" + local,
			summary: "Invalid max_agents",
			detail:  []string{"server.max_agents", "from 1 to 100000"},
			pos:     "2:16",
		},
		{
			name:    "idle timeout not a duration",
			src:     "server {\n  idle_timeout = \"forever\"\n}\n" + local,
			summary: "Invalid idle_timeout",
			detail:  []string{"server.idle_timeout", `"60s"`},
			pos:     "2:18",
		},
		{
			name:    "history shorter than a minute",
			src:     "server {\n  history = \"10s\"\n}\n" + local,
			summary: "Invalid history",
			detail:  []string{"server.history", "at least 1m0s", `"168h"`},
			pos:     "2:13",
		},
		{
			name:    "keep_agents not a bool",
			src:     "server {\n  keep_agents = \"yes\"\n}\n" + local,
			summary: "Invalid value for keep_agents",
			detail:  []string{"server.keep_agents"},
			pos:     "2:17",
		},
		{
			name:    "bad env_allowlist pattern",
			src:     "server {\n  env_allowlist = [\"GIT_[\"]\n}\n" + local,
			summary: "Invalid env_allowlist entry",
			detail:  []string{"server.env_allowlist[0]", "GIT_*"},
			pos:     "2:19",
		},
		{
			name:    "allowed origins not a list",
			src:     "server {\n  allowed_origins = 3\n}\n" + local,
			summary: "Invalid value for allowed_origins",
			pos:     "2:21",
		},
		{
			name:    "unknown agent type",
			src:     local + "agent_type \"cursor\" {}\n",
			summary: "Unknown agent type",
			detail:  []string{"aider, claude, codex, custom, gemini"},
			pos:     "2:12",
		},
		{
			name:    "duplicate agent type",
			src:     local + "agent_type \"claude\" {}\nagent_type \"claude\" {}\n",
			summary: "Duplicate agent type",
			detail:  []string{"line 2"},
			pos:     "3:1",
		},
		{
			name:    "bad approval",
			src:     local + "agent_type \"codex\" {\n  approval = \"yolo\"\n}\n",
			summary: "Invalid approval",
			detail:  []string{`"autonomous"`, `"ask"`},
			pos:     "3:14",
		},
		{
			name:    "bad start timeout",
			src:     local + "agent_type \"codex\" {\n  start_timeout = \"soon\"\n}\n",
			summary: "Invalid start_timeout",
			detail:  []string{`"90s"`},
			pos:     "3:19",
		},
		{
			name:    "bad ready pattern",
			src:     local + "agent_type \"custom\" {\n  ready_pattern = \"[\"\n}\n",
			summary: "Invalid ready_pattern",
			detail:  []string{`agent_type "custom" ready_pattern`, "not a regular expression"},
			pos:     "3:19",
		},
		{
			name:    "ready pattern matching an empty row",
			src:     local + "agent_type \"custom\" {\n  ready_pattern = \"x*\"\n}\n",
			summary: "Invalid ready_pattern",
			detail:  []string{"matches an empty row", "anchor it"},
			pos:     "3:19",
		},
		{
			name:    "empty command",
			src:     local + "agent_type \"gemini\" {\n  command = []\n}\n",
			summary: "Empty command",
			detail:  []string{"must name a program"},
			pos:     "3:13",
		},
		{
			name:    "unknown runtime attribute",
			src:     "runtime \"local\" {\n  prority = 1\n}\n",
			summary: "Unsupported argument",
			detail:  []string{`Did you mean "priority"?`},
			pos:     "2:3",
		},
		{
			name:    "unknown block",
			src:     local + "tracing {}\n",
			summary: "Unsupported block type",
			detail:  []string{`"tracing"`, "server, runtime, agent_type"},
			pos:     "2:1",
		},
		{
			name:    "misspelt block",
			src:     local + "sever {}\n",
			summary: "Unsupported block type",
			detail:  []string{`Did you mean "server"?`},
			pos:     "2:1",
		},
		{
			name:    "misspelt runtime block is not also missing",
			src:     "runtimes \"local\" {}\n",
			summary: "Unsupported block type",
			detail:  []string{`Did you mean "runtime"?`},
			pos:     "1:1",
		},
		{
			name:    "runtime without name",
			src:     "runtime {}\n",
			summary: "Missing name for runtime",
			pos:     "1:9",
		},
		{
			name:    "duplicate runtime",
			src:     "runtime \"local\" {}\n\nruntime \"local\" {\n  priority = 1\n}\n",
			summary: "Duplicate runtime",
			detail:  []string{`runtime "local" is already defined at line 1`},
			pos:     "3:1",
		},
		{
			name:    "duplicate server",
			src:     "server {}\n" + local + "server {}\n",
			summary: "Duplicate server block",
			detail:  []string{"already at line 1"},
			pos:     "3:1",
		},
		{
			name:    "duplicate config block",
			src:     "runtime \"local\" {\n  config {}\n  config {}\n}\n",
			summary: "Duplicate config block",
			detail:  []string{"already at line 2"},
			pos:     "3:3",
		},
		{
			name:    "negative priority",
			src:     "runtime \"local\" {\n  priority = -1\n}\n",
			summary: "Invalid priority",
			detail:  []string{`runtime "local" priority must be a whole number from 0 to 1000; got -1`},
			pos:     "2:14",
		},
		{
			name:    "fractional priority",
			src:     "runtime \"local\" {\n  priority = 1.5\n}\n",
			summary: "Invalid priority",
			detail:  []string{"whole number from 0 to 1000; got 1.5"},
			pos:     "2:14",
		},
		{
			name:    "priority too large",
			src:     "runtime \"local\" {\n  priority = 1001\n}\n",
			summary: "Invalid priority",
			detail:  []string{"got 1001"},
			pos:     "2:14",
		},
		{
			name:    "priority not a number",
			src:     "runtime \"local\" {\n  priority = \"high\"\n}\n",
			summary: "Invalid value for priority",
			detail:  []string{`runtime "local" priority must be a number`},
			pos:     "2:14",
		},
		{
			name:    "enabled not a bool",
			src:     "runtime \"local\" {\n  enabled = \"maybe\"\n}\n",
			summary: "Invalid value for enabled",
			detail:  []string{`runtime "local" enabled must be a bool`},
			pos:     "2:13",
		},
		{
			name:    "uppercase runtime name",
			src:     local + "runtime \"Docker\" {}\n",
			summary: "Invalid runtime name",
			detail:  []string{`runtime "Docker"`, "lowercase letter"},
			pos:     "2:9",
		},
		{
			name:    "runtime name starting with a digit",
			src:     "runtime \"2local\" {}\n",
			summary: "Invalid runtime name",
			pos:     "1:9",
		},
		{
			name:    "runtime name with underscore",
			src:     "runtime \"my_local\" {}\n",
			summary: "Invalid runtime name",
			pos:     "1:9",
		},
		{
			name:    "missing default plugin binary",
			src:     "runtime \"docker\" {}\n",
			summary: "Runtime plugin not found",
			detail:  []string{"DIR/bin/plugins/parallax-runtime-docker", "Run `make build`, or set plugin = \"...\" in runtime \"docker\""},
			pos:     "1:1",
		},
		{
			name:    "missing plugin binary set by plugin",
			src:     "runtime \"local\" {\n  plugin = \"./nowhere/local\"\n}\n",
			summary: "Runtime plugin not found",
			detail:  []string{"DIR/nowhere/local", "make build"},
			pos:     "2:12",
		},
		{
			name:    "missing plugin binary under plugin_dir",
			src:     "plugin_dir = \"/nonexistent-parallax\"\nruntime \"local\" {}\n",
			summary: "Runtime plugin not found",
			detail:  []string{"/nonexistent-parallax/parallax-runtime-local"},
			pos:     "2:1",
		},
		{
			name: "plugin not executable",
			src:  "runtime \"local\" {\n  plugin = \"plain\"\n}\n",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "plain"), "", 0o644)
			},
			summary: "Runtime plugin not executable",
			detail:  []string{"DIR/plain is not executable"},
			pos:     "2:12",
		},
		{
			name: "plugin is a directory",
			src:  "runtime \"local\" {\n  plugin = \"plugins\"\n}\n",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "plugins"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			summary: "Runtime plugin is a directory",
			detail:  []string{"DIR/plugins is a directory"},
			pos:     "2:12",
		},
		{
			name:    "empty plugin path",
			src:     "runtime \"local\" {\n  plugin = \"\"\n}\n",
			summary: "Empty path for plugin",
			detail:  []string{"remove it to use the default"},
			pos:     "2:12",
		},
		{
			name:    "listen without port",
			src:     "server {\n  listen = \"127.0.0.1\"\n}\n" + local,
			summary: "Invalid listen address",
			detail:  []string{`server.listen must be host:port, such as "127.0.0.1:3000"; "127.0.0.1" is not`},
			pos:     "2:12",
		},
		{
			name:    "listen with named port",
			src:     "server {\n  listen = \"127.0.0.1:http\"\n}\n" + local,
			summary: "Invalid listen address",
			detail:  []string{`port "http" is not a number`},
			pos:     "2:12",
		},
		{
			name:    "listen port out of range",
			src:     "server {\n  listen = \"127.0.0.1:70000\"\n}\n" + local,
			summary: "Invalid listen address",
			pos:     "2:12",
		},
		{
			name:    "no runtime",
			src:     "server {}\n",
			summary: "No runtime configured",
			detail:  []string{`add runtime "local" {}`},
			pos:     "1:1",
		},
		{
			name:    "public listener without token",
			src:     "server {\n  listen = \"0.0.0.0:3000\"\n}\n" + local,
			summary: "Unauthenticated listener on a public address",
			detail:  []string{"Set server.token or listen on 127.0.0.1"},
			pos:     "2:12",
		},
		{
			name:    "all interfaces without token",
			src:     "server {\n  listen = \":3000\"\n}\n" + local,
			summary: "Unauthenticated listener on a public address",
			pos:     "2:12",
		},
		{
			name:    "public listener with empty token from env",
			src:     "server {\n  listen = \"192.168.1.2:3000\"\n  token  = env(\"PARALLAX_TEST_UNSET_VARIABLE\")\n}\n" + local,
			summary: "Unauthenticated listener on a public address",
			pos:     "2:12",
		},
		{
			name:    "number too large to print",
			src:     "runtime \"local\" {\n  priority = -1e9999999\n}\n",
			summary: "Number out of range",
			pos:     "2:15",
		},
		{
			name:    "file not found",
			src:     "server {\n  token = file(\"missing-token\")\n}\n" + local,
			summary: "Error in function call",
			detail:  []string{"DIR/missing-token"},
			pos:     "2:11",
		},
		{
			name:    "unknown function",
			src:     "server {\n  token = envv(\"X\")\n}\n" + local,
			summary: "Call to unknown function",
			pos:     "2:11",
		},
		{
			name:    "variables",
			src:     "server {\n  token = var.token\n}\n" + local,
			summary: "Variables not allowed",
			pos:     "2:11",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PARALLAX_TEST_UNSET_VARIABLE", "")
			path := writeConfig(t, tt.src, "local")
			dir := filepath.Dir(path)
			if tt.setup != nil {
				tt.setup(t, dir)
			}

			cfg, diags := Load(path)

			if cfg != nil {
				t.Errorf("got a Config along with errors")
			}
			errs := errorsOf(diags)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%s", len(errs), formatDiags(diags))
			}
			d := errs[0]
			if d.Summary != tt.summary {
				t.Errorf("summary = %q, want %q", d.Summary, tt.summary)
			}
			for _, want := range tt.detail {
				want = strings.ReplaceAll(want, "DIR", dir)
				if !strings.Contains(d.Detail, want) {
					t.Errorf("detail = %q, want it to contain %q", d.Detail, want)
				}
			}
			if d.Subject == nil {
				t.Fatal("diagnostic has no subject")
			}
			if d.Subject.Filename != path {
				t.Errorf("subject file = %q, want %q", d.Subject.Filename, path)
			}
			if got := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column); got != tt.pos {
				t.Errorf("at %s, want %s", got, tt.pos)
			}
		})
	}
}

func TestLoadServerAccessSettings(t *testing.T) {
	path := writeConfig(t, `
server {
  listen           = "0.0.0.0:4000"
  token_file       = "token"
  allowed_workdirs = ["work", "/tmp"]
  allowed_origins  = ["https://App.example.com", "http://localhost:5173"]
  hosts            = ["parallax.example.com", "*.internal"]
  max_agents       = 10
  max_watchers_per_agent = 2
  max_event_subscribers  = 3
  idle_timeout     = "5s"
  allow_commands   = false
  env_allowlist    = ["GIT_*", "LANG"]
  history          = "24h"
  keep_agents      = true
}
runtime "local" {}
`, "local")
	dir := filepath.Dir(path)
	writeFile(t, filepath.Join(dir, "token"), "  from-file\n", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, path)
	if cfg.Server.Token != "from-file" {
		t.Errorf("Token = %q, want the file's content trimmed", cfg.Server.Token)
	}
	if want := []string{filepath.Join(dir, "work"), "/tmp"}; !slices.Equal(cfg.Server.AllowedWorkdirs, want) {
		t.Errorf("AllowedWorkdirs = %q, want %q", cfg.Server.AllowedWorkdirs, want)
	}
	if !slices.Equal(cfg.Server.AllowedOrigins, []string{"https://app.example.com", "http://localhost:5173"}) {
		t.Errorf("AllowedOrigins = %q, want them lower-cased", cfg.Server.AllowedOrigins)
	}
	if !slices.Equal(cfg.Server.Hosts, []string{"parallax.example.com", "*.internal"}) {
		t.Errorf("Hosts = %q", cfg.Server.Hosts)
	}
	s := cfg.Server
	if s.MaxAgents != 10 || s.MaxWatchersPerAgent != 2 || s.MaxEventSubscribers != 3 || s.IdleTimeout != 5*time.Second || s.AllowCommands {
		t.Errorf("limits and commands = %+v", s)
	}
	if !slices.Equal(s.EnvAllowlist, []string{"GIT_*", "LANG"}) {
		t.Errorf("EnvAllowlist = %q", s.EnvAllowlist)
	}
	if s.History != 24*time.Hour || !s.KeepAgents {
		t.Errorf("History, KeepAgents = %s, %t", s.History, s.KeepAgents)
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	path := writeConfig(t, `
server { listen = "nope" }
runtime "local" { priority = -1 }
runtime "Bad" {}
`, "local")

	_, diags := Load(path)

	var got []string
	for _, d := range errorsOf(diags) {
		got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
	}
	want := []string{"2: Invalid listen address", "3: Invalid priority", "4: Invalid runtime name"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got errors\n%s\nwant, in file order,\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadMissingFile(t *testing.T) {
	cfg, diags := Load(filepath.Join(t.TempDir(), "absent.hcl"))

	if cfg != nil || !diags.HasErrors() {
		t.Fatalf("Load = %v, %v; want nil and an error", cfg, diags)
	}
	if d := diags[0]; d.Summary != "Cannot read config file" || !strings.Contains(d.Detail, "absent.hcl") {
		t.Errorf("got %q: %q", d.Summary, d.Detail)
	}
}

func errorsOf(diags hcl.Diagnostics) []*hcl.Diagnostic {
	var errs []*hcl.Diagnostic
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	return errs
}

func formatDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	if err := WriteDiagnostics(&b, nil, diags); err != nil {
		return err.Error()
	}
	return b.String()
}

func TestLoadAgentTypes(t *testing.T) {
	path := writeConfig(t, `runtime "local" {}
agent_type "claude" {
  command       = ["./clis/claude", "--verbose"]
  args          = ["--model", "sonnet"]
  approval      = "ask"
  env           = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1" }
  preseed       = false
  start_timeout = "90s"
}
agent_type "codex" {
  command = ["codex"]
}
agent_type "custom" {
  ready_pattern = "\\$$"
}
`, "local")
	dir := filepath.Dir(path)
	cfg := mustLoad(t, path)
	claude := cfg.AgentType("claude")
	if !slices.Equal(claude.Command, []string{filepath.Join(dir, "clis", "claude"), "--verbose"}) ||
		!slices.Equal(claude.Args, []string{"--model", "sonnet"}) || claude.Approval != "ask" || claude.Preseed ||
		claude.StartTimeout != 90*time.Second || claude.Env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] != "1" {
		t.Errorf("claude = %+v", claude)
	}
	if codex := cfg.AgentType("codex"); !slices.Equal(codex.Command, []string{"codex"}) || codex.Approval != "autonomous" || !codex.Preseed {
		t.Errorf("codex = %+v; a bare name stays for PATH lookup, defaults stay", codex)
	}
	if re := cfg.AgentType("custom").ReadyPattern; re == nil || !re.MatchString("user@box:~$") || re.MatchString("$ echo hi") {
		t.Errorf("custom's ready_pattern = %v, want one matching a row ending in $", re)
	}
	if gemini := cfg.AgentType("gemini"); gemini.Command != nil || gemini.StartTimeout != defaultStartTimeout || !gemini.Preseed {
		t.Errorf("gemini without a block = %+v, want defaults", gemini)
	}
}

func TestLoadAgentsAndRegistry(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, `runtime "local" {}
agent "test-agent-1" {
  endpoint     = "http://127.0.0.1:9001"
  capabilities = ["testing"]
  metadata     = { expertise = "0.8" }
}
registry "etcd" {
  endpoints    = ["127.0.0.1:2379"]
  dial_timeout = "2s"
}
`, "local"))
	if len(cfg.Agents) != 1 || cfg.Agents[0].ID != "test-agent-1" || cfg.Agents[0].Endpoint != "http://127.0.0.1:9001" ||
		cfg.Agents[0].Capabilities[0] != "testing" || cfg.Agents[0].Metadata["expertise"] != "0.8" {
		t.Errorf("agents %+v", cfg.Agents)
	}
	if r := cfg.Registry; r == nil || r.Endpoints[0] != "127.0.0.1:2379" || r.Prefix != "/parallax/agents/" || r.DialTimeout != 2*time.Second {
		t.Errorf("registry %+v", cfg.Registry)
	}
}

// wantDiagnostic fails t unless diags has one with summary, whose detail
// holds detail and which starts at pos ("line:col").
func wantDiagnostic(t *testing.T, diags hcl.Diagnostics, summary, detail, pos string) {
	t.Helper()
	for _, d := range diags {
		if d.Summary != summary {
			continue
		}
		if !strings.Contains(d.Detail, detail) {
			t.Errorf("%s: detail %q lacks %q", summary, d.Detail, detail)
		}
		if got := posOf(d); got != pos {
			t.Errorf("%s at %s, want %s", summary, got, pos)
		}
		return
	}
	t.Errorf("no %q among %v", summary, diags)
}

// onlyError returns the one error in diags, failing t unless there is
// exactly one, with summary and every one of details.
func onlyError(t *testing.T, diags hcl.Diagnostics, summary string, details []string) *hcl.Diagnostic {
	t.Helper()
	errs := errorsOf(diags)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1:\n%s", len(errs), formatDiags(diags))
	}
	d := errs[0]
	if d.Summary != summary {
		t.Errorf("summary = %q, want %q", d.Summary, summary)
	}
	for _, want := range details {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail = %q, want it to contain %q", d.Detail, want)
		}
	}
	if d.Subject == nil {
		t.Fatal("diagnostic has no subject")
	}
	return d
}
