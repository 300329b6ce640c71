package config

import (
	"path/filepath"
	"testing"
)

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`runtime "local" {}`,
		`server {
  listen   = "127.0.0.1:3000"
  token    = env("PARALLAX_TOKEN")
  data_dir = "./.parallax"
}
plugin_dir = "./bin/plugins"
runtime "local" {
  plugin   = "./bin/plugins/parallax-runtime-local"
  priority = 10
  enabled  = true
  config {
    state_dir = "/tmp/x"
    images    = { claude = "a", codex = "b" }
  }
}`,
		`server { listen = "0.0.0.0:3000" }`,
		`runtime "local" { priority = 1.5 }`,
		`runtime "local" { priority = 1e999999 }`,
		`runtime "local" { priority = -0 }`,
		`runtime "local" {}
runtime "local" {}`,
		`runtime "Local" {}`,
		`runtime {}`,
		`runtime "a" "b" {}`,
		`server {} server {}`,
		`server { token = file("nope") }`,
		`server { token = file("/dev/zero") }`,
		`server { token = env(null) }`,
		`server { token = [for x in [1, 2] : x] }`,
		`server { listen = "${"[::1]"}:${3000}" }`,
		`plugin_dir = ""`,
		`plugin_dir = "~"`,
		`agent_type "claude" {}`,
		"warm_pool {\n  claude = 2\n  aider = 1\n}",
		"runtime \"local\" {\n  warm_pool {\n    codex = 1\n  }\n}",
		"runtime \"local\" {\n  enabled = false\n  warm_pool {\n    codex = 1\n  }\n}",
		`warm_pool { claude = -1 }`,
		`warm_pool { custom = 1 }`,
		`warm_pool "docker" { claude = 1 }`,
		`warm_pool { claude { } }`,
		`warm_pool {} warm_pool {}`,
		"server {\n  listen = \n",
		"\xff\xfe",
		"",
	} {
		f.Add([]byte(seed))
	}

	dir := f.TempDir()
	writeFile(f, filepath.Join(dir, "bin", "plugins", "parallax-runtime-local"), "", 0o755)
	path := filepath.Join(dir, "parallax.hcl")

	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := load(path, src)
		if diags.HasErrors() {
			if cfg != nil {
				t.Fatalf("got a Config along with errors: %s", diags.Error())
			}
			return
		}
		if cfg == nil {
			t.Fatal("got neither a Config nor errors")
		}
		for _, rt := range cfg.Runtimes {
			if !filepath.IsAbs(rt.PluginPath) {
				t.Fatalf("runtime %q has a relative plugin path %q", rt.Name, rt.PluginPath)
			}
		}
	})
}
