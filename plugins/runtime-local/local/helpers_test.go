package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// patience bounds every wait in the tests; it is a deadline for a
// condition, never a measure of speed.
const patience = 30 * time.Second

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn, Output: os.Stderr})
}

// testHost returns a host instance name no other test shares.
func testHost(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("test-%s-%06d", name, rand.IntN(1e6))
}

type options struct {
	host     string
	stateDir string
	config   map[string]any
}

// newRuntime configures a runtime for a test and, at the end of the test,
// stops its agents and removes its cgroups.
func newRuntime(t testing.TB, opts options) *Runtime {
	t.Helper()
	if opts.host == "" {
		opts.host = testHost(t)
	}
	if opts.stateDir == "" {
		opts.stateDir = t.TempDir()
	}
	cfg := map[string]any{"state_dir": opts.stateDir}
	for k, v := range opts.config {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	r := New(testLogger(t))
	if err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: opts.host, Config: raw}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { cleanupRuntime(t, r) })
	return r
}

func cleanupRuntime(t testing.TB, r *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	infos, _ := r.List(ctx)
	for _, info := range infos {
		if err := r.Stop(ctx, info.ID, runtime.StopOptions{Force: true}); err != nil {
			t.Errorf("cleanup: stop %s: %v", info.ID, err)
		}
	}
	for _, base := range append([]string{r.cg.v2}, mapValues(r.cg.v1)...) {
		if base != "" {
			_ = syscall.Rmdir(base)
		}
	}
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

func start(t testing.TB, r *Runtime, spec runtime.Spec) runtime.AgentInfo {
	t.Helper()
	info, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start %s: %v", spec.ID, err)
	}
	return info
}

func sh(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

func wait(t testing.TB, r *Runtime, id string) runtime.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := r.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait %s: %v", id, err)
	}
	return st
}

// stop stops an agent and returns how it ended, which Stop itself doesn't
// tell and after which Wait no longer knows the agent.
func stop(t testing.TB, r *Runtime, id string, opts runtime.StopOptions) runtime.ExitStatus {
	t.Helper()
	a, err := r.agents.Get(id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := r.Stop(ctx, id, opts); err != nil {
		t.Fatalf("Stop %s: %v", id, err)
	}
	return *a.Info().Exit
}

// output collects what an attached connection reads.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

func capture(t testing.TB, r *Runtime, id string) (io.ReadWriteCloser, *output) {
	t.Helper()
	c, err := r.Attach(context.Background(), id)
	if err != nil {
		t.Fatalf("Attach %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	o := &output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			if err != nil {
				o.err = err
			}
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c, o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output holds want n times.
func (o *output) waitFor(t testing.TB, want string, n int) {
	t.Helper()
	runtimetest.Eventually(t, patience, fmt.Sprintf("output holding %q %d times", want, n),
		func() bool { return strings.Count(o.String(), want) >= n },
		func() string { return fmt.Sprintf("%q", o.String()) })
}

// waitEOF waits until the reader got io.EOF and returns all it read.
func (o *output) waitEOF(t testing.TB) string {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(patience):
		t.Fatalf("no EOF; got %q", o.String())
	}
	if o.err != io.EOF {
		t.Fatalf("read ended with %v, want io.EOF", o.err)
	}
	return o.String()
}

func alive(pid int) bool {
	p, ok := readProcStat(pid)
	return ok && p.alive()
}

// readPidFile waits for a script to write a pid into path.
func readPidFile(t testing.TB, path string) int {
	t.Helper()
	var pid int
	runtimetest.Eventually(t, patience, "a pid in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &pid)
		return err == nil && pid > 0
	}, nil)
	return pid
}

func tempFile(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
