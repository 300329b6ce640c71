package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

func TestLaunchRefusesWhatIsNotAPlugin(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name   string
		path   string
		wantIs error
	}{
		{name: "missing", path: filepath.Join(dir, "no-such-plugin"), wantIs: fs.ErrNotExist},
		{name: "not executable", path: writeFile("plain", "hello", 0o644)},
		{name: "prints something else", path: writeFile("chatty", "#!/bin/sh\necho hello\n", 0o755)},
		{name: "exits at once", path: writeFile("quitter", "#!/bin/sh\nexit 3\n", 0o755)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := plugin.Launch(ctx, tt.path, hclog.NewNullLogger())
			if err == nil {
				c.Kill()
				t.Fatal("Launch succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q doesn't name %s", err, tt.path)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var fakePlugin struct {
	once sync.Once
	path string
	err  error
}

// buildFakePlugin builds testdata/fakeplugin, once per test binary, and
// returns its path.
func buildFakePlugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a plugin binary")
	}
	fakePlugin.once.Do(func() {
		dir, err := os.MkdirTemp("", "parallax-fakeplugin-")
		if err != nil {
			fakePlugin.err = err
			return
		}
		fakePlugin.path = filepath.Join(dir, "fakeplugin")
		out, err := exec.Command("go", "build", "-o", fakePlugin.path, "./testdata/fakeplugin").CombinedOutput()
		if err != nil {
			fakePlugin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if fakePlugin.err != nil {
		t.Fatal(fakePlugin.err)
	}
	return fakePlugin.path
}

func TestMain(m *testing.M) {
	if os.Getenv(helperHostEnv) != "" {
		os.Exit(helperHost())
	}
	code := m.Run()
	if fakePlugin.path != "" {
		_ = os.RemoveAll(filepath.Dir(fakePlugin.path))
	}
	os.Exit(code)
}

// captureStdout redirects this process's stdout while f runs and returns
// what was written to it.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	captured := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		captured <- string(b)
	}()
	defer func() {
		os.Stdout = saved
	}()
	f()
	_ = w.Close()
	return <-captured
}

func TestLaunchedPluginLogsToHostLoggerOnly(t *testing.T) {
	path := buildFakePlugin(t)
	const marker = "marker-6b1d"
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Trace, Output: &logs})

	stdout := captureStdout(t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := plugin.Launch(ctx, path, logger, plugin.WithEnv("FAKEPLUGIN_MARKER="+marker))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Kill()

		info, err := c.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != "fakeplugin" || info.ProtocolVersion != runtime.ProtocolVersion {
			t.Errorf("Describe = %+v", info)
		}
		if _, err := c.Inspect(ctx, "nobody"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Inspect err = %v, want ErrNotFound", err)
		}
		// The plugin's stderr is read apart from the gRPC reply.
		runtimetest.Eventually(t, 5*time.Second, "the plugin's log line", func() bool {
			return strings.Contains(logs.String(), "describing")
		}, logs.String)
	})

	var entry string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "describing") {
			entry = line
		}
	}
	// A structured entry: hclog's level and attributes, not a raw JSON line.
	if !strings.Contains(entry, "[INFO]") || !strings.Contains(entry, "marker="+marker) {
		t.Errorf("the plugin's log line didn't become a host log entry; host log:\n%s", logs.String())
	}
	if strings.Contains(stdout, marker) {
		t.Errorf("the plugin's output reached the host's stdout: %q", stdout)
	}
}

func TestKilledPluginIsUnavailable(t *testing.T) {
	path := buildFakePlugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := plugin.Launch(ctx, path, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	if c.PID() <= 0 {
		t.Fatalf("PID() = %d", c.PID())
	}

	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 5*time.Second, "Exited() after SIGKILL", c.Exited, nil)
	_, err = c.Health(ctx)
	if !plugin.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false", err)
	}
}

func TestCleanExitClosesTheRuntime(t *testing.T) {
	path := buildFakePlugin(t)
	closed := filepath.Join(t.TempDir(), "closed")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := plugin.Launch(ctx, path, hclog.NewNullLogger(), plugin.WithEnv("FAKEPLUGIN_CLOSED="+closed))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Describe(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(closed); err == nil {
		t.Fatal("Close ran before the host ended the plugin")
	}
	// Kill asks the plugin to exit and waits for it, so Close has run.
	c.Kill()
	if b, err := os.ReadFile(closed); err != nil || string(b) != "closed" {
		t.Errorf("after a clean exit, the runtime's Close left %q, %v; want \"closed\"", b, err)
	}
}
