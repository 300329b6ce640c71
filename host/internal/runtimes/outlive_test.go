package runtimes

import (
	"context"
	"fmt"
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
	"github.com/parallax/parallax/sdk/runtimetest"
)

var testPlugin struct {
	once sync.Once
	path string
	err  error
}

// buildTestPlugin builds testdata/plugin, once per test binary, and
// returns its path.
func buildTestPlugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a plugin binary")
	}
	testPlugin.once.Do(func() {
		dir, err := os.MkdirTemp("", "parallax-runtimes-test-")
		if err != nil {
			testPlugin.err = err
			return
		}
		testPlugin.path = filepath.Join(dir, "parallax-runtime-fake")
		out, err := exec.Command("go", "build", "-o", testPlugin.path, "./testdata/plugin").CombinedOutput()
		if err != nil {
			testPlugin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testPlugin.err != nil {
		t.Fatal(testPlugin.err)
	}
	return testPlugin.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testPlugin.path != "" {
		_ = os.RemoveAll(filepath.Dir(testPlugin.path))
	}
	os.Exit(code)
}

// host is one host process's Manager of the test plugin, with its log.
type host struct {
	m   *Manager
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startHost starts a Manager of runtime "fake" on dataDir, the way a host
// process does, with the config block given.
func startHost(t *testing.T, dataDir, path, block string) *host {
	t.Helper()
	cfg := loadConfig(t, fmt.Sprintf("runtime \"fake\" {\n  plugin = %q\n  %s\n}\n", path, block))
	h := &host{log: &syncBuffer{}}
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: h.log})
	h.m = New(Options{Logger: logger, HostInstance: "h1", DataDir: dataDir, HealthInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if diags := h.m.Start(ctx, cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	return h
}

func (h *host) pid(t *testing.T) int {
	t.Helper()
	p, err := h.m.Get("fake")
	if err != nil {
		t.Fatal(err)
	}
	return p.ReattachConfig().PID
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// configures counts the Configure calls the plugins of dataDir had.
func configures(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "runtimes", "fake", "configured"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// A host that exits with Detach leaves its plugins running; the next one
// on the same data dir reattaches to each when it is still there and the
// same, and launches a new one otherwise.
func TestANewHostReattachesToTheSamePlugin(t *testing.T) {
	path := buildTestPlugin(t)
	tests := []struct {
		name string
		// between runs after the first host detached.
		between      func(t *testing.T, pid int, path string) string
		block        string
		wantSame     bool
		wantLogEntry string
	}{
		{name: "same binary and config", wantSame: true, wantLogEntry: "reattached to the plugin"},
		{name: "config changed", block: `config { mode = "other" }`, wantLogEntry: "configuration changed"},
		{name: "binary moved", wantLogEntry: "plugin binary changed",
			between: func(t *testing.T, _ int, path string) string {
				moved := filepath.Join(t.TempDir(), "parallax-runtime-fake")
				if err := os.Link(path, moved); err != nil {
					t.Fatal(err)
				}
				return moved
			}},
		{name: "plugin dead", wantLogEntry: "is gone",
			between: func(t *testing.T, pid int, path string) string {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				// Reaped by the first host's client, which still waits.
				runtimetest.Eventually(t, 10*time.Second, "the plugin to die", func() bool { return !alive(pid) }, nil)
				return path
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			first := startHost(t, dataDir, path, `config { mode = "one" }`)
			t.Cleanup(first.m.Shutdown)
			pid := first.pid(t)
			logPath := filepath.Join(dataDir, "runtimes", "fake", logFile)
			runtimetest.Eventually(t, 10*time.Second, "the first host to forward the plugin's log", func() bool {
				return strings.Contains(first.log.String(), "configured")
			}, first.log.String)
			first.m.Detach()
			if !alive(pid) {
				t.Fatal("Detach ended the plugin")
			}
			// What the plugin logs while no host is there.
			appendLine(t, logPath, `{"@level":"info","@message":"while no host was there","@timestamp":"2026-01-02T03:04:05.000000Z"}`)

			second := path
			if tt.between != nil {
				second = tt.between(t, pid, path)
			}
			block := tt.block
			if block == "" {
				block = `config { mode = "one" }`
			}
			h := startHost(t, dataDir, second, block)
			t.Cleanup(h.m.Shutdown)
			newPid := h.pid(t)
			if same := newPid == pid; same != tt.wantSame {
				t.Errorf("the second host runs pid %d, the first ran %d; want the same: %t", newPid, pid, tt.wantSame)
			}
			wantConfigures := 2
			if tt.wantSame {
				wantConfigures = 1
			}
			if n := configures(t, dataDir); n != wantConfigures {
				t.Errorf("Configure ran %d times, want %d", n, wantConfigures)
			}
			if !tt.wantSame {
				runtimetest.Eventually(t, 10*time.Second, "the replaced plugin to end", func() bool { return !alive(pid) }, nil)
				// The new plugin logs afresh; the last one's log is kept.
				if b, err := os.ReadFile(logPath + ".1"); err != nil || !strings.Contains(string(b), "while no host was there") {
					t.Errorf("the replaced plugin's log: %v; want it kept as %s.1", err, logFile)
				}
			}
			rec, err := readRecord(filepath.Join(dataDir, "runtimes", "fake", recordFile))
			if err != nil || rec.Reattach.PID != newPid || rec.PluginPath != second || rec.ConfigHash == "" {
				t.Errorf("record %+v, %v; want pid %d, plugin %s, configured", rec, err, newPid, second)
			}

			// The second host's log: no line the first one forwarded, the
			// one written meanwhile if the plugin is the same.
			runtimetest.Eventually(t, 10*time.Second, "the second host's log to say "+tt.wantLogEntry, func() bool {
				return strings.Contains(h.log.String(), tt.wantLogEntry)
			}, h.log.String)
			if tt.wantSame {
				runtimetest.Eventually(t, 10*time.Second, "the line written while no host was there", func() bool {
					return strings.Contains(h.log.String(), "while no host was there")
				}, h.log.String)
				if strings.Contains(h.log.String(), "configured") {
					t.Errorf("the second host forwarded the first one's lines again:\n%s", h.log.String())
				}
			}

			h.m.Shutdown()
			runtimetest.Eventually(t, 10*time.Second, "Shutdown to end the plugin", func() bool { return !alive(newPid) }, nil)
			if _, err := os.Stat(filepath.Join(dataDir, "runtimes", "fake", recordFile)); !os.IsNotExist(err) {
				t.Errorf("the record is still there after Shutdown: %v", err)
			}
		})
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// validate must leave nothing behind: no running plugin, no record.
func TestCheckLeavesNothingBehind(t *testing.T) {
	path := buildTestPlugin(t)
	cfg := loadConfig(t, fmt.Sprintf("runtime \"fake\" {\n  plugin = %q\n}\n", path))
	var pids []int
	launch := func(ctx context.Context, path string, log hclog.Logger, opts ...plugin.LaunchOption) (Plugin, error) {
		if len(opts) > 0 {
			t.Errorf("Check launched with options %v; want the default, dying with the host", opts)
		}
		p, err := Launch(ctx, path, log, opts...)
		if err == nil {
			pids = append(pids, p.ReattachConfig().PID)
		}
		return p, err
	}
	if diags := Check(context.Background(), cfg, launch, hclog.NewNullLogger()); diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(pids) != 1 || alive(pids[0]) {
		t.Errorf("plugins %v; want one, ended", pids)
	}
	if _, err := os.Stat(filepath.Join(cfg.Server.DataDir, "runtimes")); !os.IsNotExist(err) {
		t.Errorf("Check wrote into the data dir: %v", err)
	}
}

// No host reattaches to the plugin of a runtime no longer enabled, so the
// next one ends it.
func TestThePluginOfARuntimeNoLongerEnabledIsEnded(t *testing.T) {
	path := buildTestPlugin(t)
	dataDir := t.TempDir()
	first := startHost(t, dataDir, path, "")
	t.Cleanup(first.m.Shutdown)
	pid := first.pid(t)
	first.m.Detach()

	second := startHost(t, dataDir, path, "enabled = false")
	t.Cleanup(second.m.Shutdown)
	runtimetest.Eventually(t, 10*time.Second, "the plugin to end", func() bool { return !alive(pid) }, nil)
	if _, err := os.Stat(filepath.Join(dataDir, "runtimes", "fake", recordFile)); !os.IsNotExist(err) {
		t.Errorf("the record is still there: %v", err)
	}
	if !strings.Contains(second.log.String(), "no longer enabled") {
		t.Errorf("the host did not say why it ended the plugin; log:\n%s", second.log.String())
	}
}
