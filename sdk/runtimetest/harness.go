package runtimetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

// ServeInProcess serves r in this process over a real gRPC connection,
// configures it through that connection as the host would, with a host
// instance of its own and config (a JSON object; nil means "{}"), and
// returns the host's side. The connection closes when the test ends.
func ServeInProcess(t *testing.T, r runtime.Runtime, config []byte) runtime.Runtime {
	t.Helper()
	c := plugin.TestClient(t, r)
	configure(t, c, config)
	return c
}

// LaunchPlugin starts the plugin binary at path, configures it like
// ServeInProcess does, and kills it when the test ends. The plugin's log
// goes to the test's log.
func LaunchPlugin(t *testing.T, path string, config []byte) runtime.Runtime {
	t.Helper()
	logs := &testLog{t: t}
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Debug, Output: logs})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := plugin.Launch(ctx, path, logger)
	if err != nil {
		t.Fatalf("launch %s: %v", path, err)
	}
	t.Cleanup(func() {
		c.Kill()
		logs.stop()
	})
	configure(t, c, config)
	return c
}

// configure does what the host does after connecting to a plugin.
func configure(t *testing.T, rt runtime.Runtime, config []byte) {
	t.Helper()
	if config == nil {
		config = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := rt.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	// A host instance of its own keeps the test from touching any other
	// host's agents, and theirs from showing up in Recover or List.
	req := runtime.ConfigureRequest{HostInstance: "runtimetest-" + nonce() + nonce(), Config: config}
	if err := rt.Configure(ctx, req); err != nil {
		t.Fatalf("Configure %s: %v", config, err)
	}
	if a, ok := rt.(runtime.Adopter); ok && info.Capabilities.Adopt {
		agents, err := a.Recover(ctx)
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		if len(agents) > 0 {
			t.Errorf("Recover for a new host instance returned agents: %+v", agents)
		}
	}
}

// testLog writes a plugin's log to the test's log until the test ends;
// t.Log after that panics, and a dying plugin may still write.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
