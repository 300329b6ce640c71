package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/plugins/runtime-docker/internal/testengine"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// buildPlugin builds this plugin once for the tests of this package.
var buildPlugin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "parallax-runtime-docker-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "parallax-runtime-docker")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return bin, build.Run()
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildPlugin(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func pluginBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildPlugin()
	if err != nil {
		t.Fatalf("building the plugin: %v", err)
	}
	return bin
}

func testConfig() []byte {
	raw, _ := json.Marshal(map[string]any{
		"default_image": testengine.Image,
		"pull_policy":   "never",
		"network":       "none",
	})
	return raw
}

// TestConformanceAsPluginProcess runs the sdk's conformance suite against
// the built binary, launched the way the host launches it: a separate
// process speaking go-plugin gRPC.
func TestConformanceAsPluginProcess(t *testing.T) {
	testengine.Client(t)
	bin := pluginBinary(t)
	runtimetest.Run(t, runtimetest.Options{
		Shell:   testengine.Shell,
		Image:   testengine.Image,
		Timeout: 30 * time.Second,
		New: func(t *testing.T) runtime.Runtime {
			return runtimetest.LaunchPlugin(t, bin, testConfig())
		},
	})
}

// launch starts the plugin for host instance host, configured and
// recovered as the host does it.
func launch(t *testing.T, bin, host string) (*plugin.Client, []runtime.AgentInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn, Output: os.Stderr})
	c, err := plugin.Launch(ctx, bin, logger)
	if err != nil {
		t.Fatalf("launch %s: %v", bin, err)
	}
	t.Cleanup(c.Kill)
	if err := c.Configure(ctx, runtime.ConfigureRequest{HostInstance: host, Config: testConfig()}); err != nil {
		t.Fatal(err)
	}
	adopted, err := c.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, adopted
}

// TestAgentSurvivesAPluginKilledWithSIGKILL is what the host's plugin
// supervision relies on: a plugin process dies without a word, the host
// starts a new one, and the new one adopts the running container, whose
// terminal works again.
func TestAgentSurvivesAPluginKilledWithSIGKILL(t *testing.T) {
	testengine.Client(t)
	bin := pluginBinary(t)
	host := fmt.Sprintf("test-sigkill-%06d", rand.IntN(1e6))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first, _ := launch(t, bin, host)
	spec := runtime.Spec{
		ID:     "survivor",
		Argv:   append(append([]string(nil), testengine.Shell...), `while IFS= read -r l; do echo "got:$l:end"; done`),
		Labels: map[string]string{"parallax.name": "survivor"},
	}
	if _, err := first.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(first.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	second, adopted := launch(t, bin, host)
	t.Cleanup(func() {
		_ = second.Stop(context.Background(), spec.ID, runtime.StopOptions{Force: true})
	})
	if len(adopted) != 1 || adopted[0].ID != spec.ID || adopted[0].Labels["parallax.name"] != "survivor" {
		t.Fatalf("Recover after SIGKILL = %+v; want the running agent with its labels", adopted)
	}
	conn, err := second.Attach(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "after-the-kill\n"); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "got:after-the-kill:end") {
		n, err := conn.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("the adopted terminal ended with %v; output %q", err, seen.String())
		}
	}
	if err := second.Stop(ctx, spec.ID, runtime.StopOptions{Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if list, err := second.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after Stop = %+v, %v; want nothing", list, err)
	}
}
