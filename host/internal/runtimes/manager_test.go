package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// fakes serves fake runtimes over real gRPC, one per plugin path, and
// counts launches so restarts can be seen.
type fakes struct {
	t        *testing.T
	mu       sync.Mutex
	byName   map[string]*fakeruntime.Runtime
	clients  map[string]*plugin.Client
	launches map[string]int
}

func newFakes(t *testing.T, rts ...*fakeruntime.Runtime) *fakes {
	f := &fakes{t: t, byName: map[string]*fakeruntime.Runtime{}, clients: map[string]*plugin.Client{}, launches: map[string]int{}}
	for _, r := range rts {
		f.byName[r.Name] = r
	}
	return f
}

func (f *fakes) launch(_ context.Context, path string, _ hclog.Logger, _ ...plugin.LaunchOption) (Plugin, error) {
	name := strings.TrimPrefix(filepath.Base(path), "parallax-runtime-")
	r, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("no fake for %s", path)
	}
	c := plugin.TestClient(f.t, r)
	f.mu.Lock()
	f.clients[name] = c
	f.launches[name]++
	f.mu.Unlock()
	return c, nil
}

func (f *fakes) client(name string) *plugin.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clients[name]
}

func (f *fakes) launchCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.launches[name]
}

// loadConfig writes hcl beside fake plugin binaries for names and loads it.
func loadConfig(t *testing.T, hcl string, names ...string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, "parallax-runtime-"+n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.hcl")
	src := fmt.Sprintf("plugin_dir = %q\nserver {\n  data_dir = %q\n}\n%s", dir, dir, hcl)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	return cfg
}

func names(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestCandidatesFollowPriorityAndHealth(t *testing.T) {
	f := newFakes(t,
		&fakeruntime.Runtime{Name: "alpha", DefaultPriority: 10},
		&fakeruntime.Runtime{Name: "beta", DefaultPriority: 20},
		&fakeruntime.Runtime{Name: "gamma", DefaultPriority: 30},
		&fakeruntime.Runtime{Name: "sick", DefaultPriority: 1},
	)
	f.byName["sick"].SetUnhealthy("engine unreachable")
	cfg := loadConfig(t, `
runtime "alpha" { priority = 25 }  # the file overrides the plugin's 10
runtime "beta" {}
runtime "gamma" {}
runtime "sick" {}
runtime "off" { enabled = false }
`, "alpha", "beta", "gamma", "sick")
	m := New(Options{HostInstance: "h1", Launch: f.launch})
	if diags := m.Start(context.Background(), cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	t.Cleanup(m.Shutdown)

	tests := []struct {
		name    string
		want    []string
		wantErr error
	}{
		{"", []string{"beta", "alpha", "gamma"}, nil},
		{"gamma", []string{"gamma"}, nil},
		{"sick", nil, ErrNoRuntime},
		{"off", nil, ErrUnknownRuntime},
		{"nope", nil, ErrUnknownRuntime},
	}
	for _, tt := range tests {
		got, err := m.Candidates(tt.name)
		if !errors.Is(err, tt.wantErr) || strings.Join(names(got), ",") != strings.Join(tt.want, ",") {
			t.Errorf("Candidates(%q) = %v, %v; want %v, %v", tt.name, names(got), err, tt.want, tt.wantErr)
		}
	}
	if _, err := m.Candidates("sick"); err == nil || !strings.Contains(err.Error(), "engine unreachable") {
		t.Errorf("an unhealthy runtime's error should carry its health message, got %v", err)
	}
	var order []string
	for _, s := range m.Statuses() {
		order = append(order, fmt.Sprintf("%s:%d:%t", s.Name, s.Priority, s.Healthy))
	}
	if got := strings.Join(order, " "); got != "sick:1:false beta:20:true alpha:25:true gamma:30:true" {
		t.Errorf("Statuses = %s", got)
	}
}

func TestConfigBlockIsDecodedAgainstThePluginSchema(t *testing.T) {
	schema := []runtime.ConfigAttr{{Name: "mode", Type: "string", Required: true}, {Name: "limit", Type: "number"}}
	tests := []struct {
		name     string
		block    string
		wantJSON string
		wantErr  string
	}{
		{"decoded", "config {\n    mode = \"fast\"\n    limit = 3\n  }", `{"limit":3,"mode":"fast"}`, ""},
		{"unknown attribute", "config {\n    mode = \"fast\"\n    speed = 3\n  }", "", "speed"},
		{"missing required", "config {\n    limit = 3\n  }", "", "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeruntime.Runtime{Name: "alpha", Schema: schema}
			cfg := loadConfig(t, "runtime \"alpha\" {\n  "+tt.block+"\n}\n", "alpha")
			m := New(Options{HostInstance: "h1", Launch: newFakes(t, fake).launch})
			diags := m.Start(context.Background(), cfg)
			t.Cleanup(m.Shutdown)
			if tt.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantErr) || diags[0].Subject == nil {
					t.Fatalf("diags = %v; want an error at a place in the file about %q", diags, tt.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := fake.Configured()
			if string(got.Config) != tt.wantJSON || got.HostInstance != "h1" {
				t.Errorf("Configure got %s (instance %q), want %s", got.Config, got.HostInstance, tt.wantJSON)
			}
		})
	}
}

func TestEachRuntimeGetsAPrivateDataDir(t *testing.T) {
	tests := []struct {
		name    string
		dataDir func(t *testing.T) string
		want    func(dataDir string) string
	}{
		{"under server.data_dir", func(t *testing.T) string { return t.TempDir() },
			func(d string) string { return filepath.Join(d, "runtimes", "alpha") }},
		// Tests and embedders that give no data dir give runtimes none.
		{"none without a data dir", func(*testing.T) string { return "" }, func(string) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeruntime.Runtime{Name: "alpha"}
			cfg := loadConfig(t, "runtime \"alpha\" {}\n", "alpha")
			dataDir := tt.dataDir(t)
			m := New(Options{HostInstance: "h1", DataDir: dataDir, Launch: newFakes(t, fake).launch})
			if diags := m.Start(context.Background(), cfg); diags.HasErrors() {
				t.Fatal(diags)
			}
			t.Cleanup(m.Shutdown)
			want := tt.want(dataDir)
			if got := fake.Configured().DataDir; got != want {
				t.Fatalf("Configure got DataDir %q, want %q", got, want)
			}
			if want == "" {
				return
			}
			fi, err := os.Stat(want)
			if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("data dir %s: %v, %v; want a directory with mode 0700", want, fi, err)
			}
		})
	}
}

type recorder struct {
	mu      sync.Mutex
	lost    []string
	adopted []string
}

func (r *recorder) RuntimeLost(name, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost = append(r.lost, name+": "+reason)
}

func (r *recorder) Adopt(name string, _ []runtime.AgentInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adopted = append(r.adopted, name)
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lost), len(r.adopted)
}

func TestADeadPluginIsRestartedAndReported(t *testing.T) {
	f := newFakes(t, &fakeruntime.Runtime{Name: "alpha", DefaultPriority: 10})
	cfg := loadConfig(t, `runtime "alpha" {}`, "alpha")
	rec := &recorder{}
	m := New(Options{HostInstance: "h1", Launch: f.launch, HealthInterval: 10 * time.Millisecond})
	m.SetListener(rec)
	if diags := m.Start(context.Background(), cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	t.Cleanup(m.Shutdown)

	f.client("alpha").Kill()

	var st Status
	runtimetest.Eventually(t, 30*time.Second, "the runtime to restart", func() bool {
		st = m.Statuses()[0]
		return st.Restarts == 1 && st.Healthy
	}, func() string { return fmt.Sprintf("%+v", st) })
	if n := f.launchCount("alpha"); n != 2 {
		t.Errorf("launched %d times, want 2", n)
	}
	lost, adopted := rec.counts()
	if lost != 1 || adopted != 2 {
		t.Errorf("listener heard %d lost and %d adopt calls, want 1 and 2 (start and restart)", lost, adopted)
	}
	if _, err := m.Candidates(""); err != nil {
		t.Errorf("no candidate after the restart: %v", err)
	}
}
