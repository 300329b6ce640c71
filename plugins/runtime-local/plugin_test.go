package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// TestConformanceAsPluginProcess builds this plugin and runs the sdk's
// conformance suite against the binary, launched the way the host launches
// it: a separate process speaking go-plugin gRPC.
func TestConformanceAsPluginProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "parallax-runtime-local")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building the plugin: %v", err)
	}
	runtimetest.Run(t, runtimetest.Options{
		LocalWorkdir: true,
		New: func(t *testing.T) runtime.Runtime {
			cfg, _ := json.Marshal(map[string]string{"state_dir": t.TempDir()})
			return runtimetest.LaunchPlugin(t, bin, cfg)
		},
	})
}
