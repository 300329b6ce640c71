package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/parallax/parallax/sdk/runtime"
)

func TestDescribe(t *testing.T) {
	info, err := New(nil).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "docker" || info.DefaultPriority != 20 || info.Version != Version {
		t.Errorf("Describe = %+v", info)
	}
	caps := info.Capabilities
	if !caps.CPULimit || !caps.MemoryLimit || !caps.Timeout {
		t.Errorf("Capabilities = %+v, want CPU and memory limits and timeout", caps)
	}
	got := make([]string, len(info.ConfigSchema))
	for i, a := range info.ConfigSchema {
		got[i] = a.Name
	}
	want := "host,network,images,default_image,pull_policy,default_cpu,default_memory,pids_limit,user,labels,workdir_roots,default_stop_timeout,scrollback_bytes"
	if strings.Join(got, ",") != want {
		t.Errorf("schema attributes = %s, want %s", strings.Join(got, ","), want)
	}
}

func TestNotConfigured(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	if _, err := r.Start(ctx, runtime.Spec{ID: "a", Argv: []string{"true"}}); !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("Start before Configure: %v", err)
	}
	if _, err := r.Recover(ctx); !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("Recover before Configure: %v", err)
	}
	if h, _ := r.Health(ctx); h.Healthy {
		t.Error("healthy before Configure")
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := decodeConfig([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Network != "none" || cfg.PullPolicy != pullIfMissing || cfg.PidsLimit != 1024 ||
		cfg.DefaultStopTimeout != 10*time.Second || len(cfg.WorkdirRoots) != 0 {
		t.Errorf("defaults = %+v", cfg)
	}
	if got := cfg.imageFor("", "claude"); got != "parallax/agent-claude:latest" {
		t.Errorf("image for claude = %q", got)
	}
	if got := cfg.imageFor("", "custom"); got != "parallax/agent-base:latest" {
		t.Errorf("image for custom = %q", got)
	}
	if got := cfg.imageFor("hint:1", "claude"); got != "hint:1" {
		t.Errorf("the spec's image hint lost to the config: %q", got)
	}
}

func TestConfigureRejectsBadConfig(t *testing.T) {
	tests := []struct {
		config string
		attr   string // the error must name it
		fix    string // and say what to do
	}{
		{`{"host": "/var/run/docker.sock"}`, "host", "unix://"},
		{`{"network": ""}`, "network", `"none"`},
		{`{"images": {"claude": ""}}`, "images", "leave"},
		{`{"images": ["x"]}`, "images", "map"},
		{`{"pull_policy": "sometimes"}`, "pull_policy", `"if-missing"`},
		{`{"default_cpu": "lots"}`, "default_cpu", `"500m"`},
		{`{"default_memory": "2GB"}`, "default_memory", `"2Gi"`},
		{`{"pids_limit": -1}`, "pids_limit", "0 for no limit"},
		{`{"pids_limit": 1.5}`, "pids_limit", "whole number"},
		{`{"labels": {"parallax.managed": "false"}}`, "labels", "rename"},
		{`{"workdir_roots": ["relative/dir"]}`, "workdir_roots", "absolute"},
		{`{"default_stop_timeout": "soon"}`, "default_stop_timeout", `"10s"`},
		{`{"scrollback_bytes": 5}`, "scrollback_bytes", "from 1024"},
		{`{"colour": "blue"}`, "colour", "known ones are host, network"},
		{`[1]`, "JSON object", "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			err := New(nil).Configure(context.Background(), runtime.ConfigureRequest{HostInstance: "h", Config: []byte(tt.config)})
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.attr) || !strings.Contains(err.Error(), tt.fix) {
				t.Errorf("Configure(%s) = %v; want ErrInvalidSpec naming %s and saying %s", tt.config, err, tt.attr, tt.fix)
			}
		})
	}
}

// configured returns a runtime configured without touching an engine:
// Configure never does.
func configured(t *testing.T, config string) *Runtime {
	t.Helper()
	r := New(nil)
	if err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: "h1", Config: []byte(config)}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckResources(t *testing.T) {
	tests := []struct {
		name                string
		config              string
		res                 runtime.Resources
		nanoCPUs, memory    int64
		pidsLimit           int64 // 0: none set
		wantErr, errMention string
	}{
		{name: "none", config: `{}`, pidsLimit: 1024},
		{name: "millicores", config: `{}`, res: runtime.Resources{CPU: "500m"}, nanoCPUs: 5e8, pidsLimit: 1024},
		{name: "cores", config: `{}`, res: runtime.Resources{CPU: "1.5"}, nanoCPUs: 15e8, pidsLimit: 1024},
		{name: "memory Gi", config: `{}`, res: runtime.Resources{Memory: "2Gi"}, memory: 2 << 30, pidsLimit: 1024},
		{name: "memory Mi", config: `{}`, res: runtime.Resources{Memory: "64Mi"}, memory: 64 << 20, pidsLimit: 1024},
		{name: "config defaults", config: `{"default_cpu": "1", "default_memory": "1Gi", "pids_limit": 0}`,
			nanoCPUs: 1e9, memory: 1 << 30},
		{name: "spec beats defaults", config: `{"default_cpu": "1", "default_memory": "1Gi", "pids_limit": 50}`,
			res: runtime.Resources{CPU: "250m", Memory: "128Mi"}, nanoCPUs: 25e7, memory: 128 << 20, pidsLimit: 50},
		{name: "bad cpu", config: `{}`, res: runtime.Resources{CPU: "fast"}, wantErr: "cpu", errMention: `"500m"`},
		{name: "bad memory", config: `{}`, res: runtime.Resources{Memory: "2GB"}, wantErr: "memory", errMention: `"2Gi"`},
		{name: "memory below the engine's minimum", config: `{}`, res: runtime.Resources{Memory: "1Mi"}, wantErr: "memory", errMention: `"6Mi"`},
		{name: "negative timeout", config: `{}`, res: runtime.Resources{Timeout: -time.Second}, wantErr: "timeout", errMention: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := configured(t, tt.config)
			p, err := r.check(r.cfg, runtime.Spec{ID: "a", Argv: []string{"sh"}, Resources: tt.res})
			if tt.wantErr != "" {
				if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.errMention) {
					t.Fatalf("check = %v; want ErrInvalidSpec naming %s with %s", err, tt.wantErr, tt.errMention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := p.create.HostConfig.Resources
			if got.NanoCPUs != tt.nanoCPUs || got.Memory != tt.memory || got.MemorySwap != tt.memory {
				t.Errorf("NanoCPUs %d Memory %d MemorySwap %d; want %d, %d, %d",
					got.NanoCPUs, got.Memory, got.MemorySwap, tt.nanoCPUs, tt.memory, tt.memory)
			}
			var pids int64
			if got.PidsLimit != nil {
				pids = *got.PidsLimit
			}
			if pids != tt.pidsLimit {
				t.Errorf("PidsLimit %d, want %d", pids, tt.pidsLimit)
			}
		})
	}
}

func TestCheckBuildsTheContainer(t *testing.T) {
	r := configured(t, `{"images": {"claude": "img/claude:1"}, "labels": {"team": "infra"}, "network": "bridge", "user": "1000:1000"}`)
	spec := runtime.Spec{
		ID:     "agent-1",
		Argv:   []string{"claude", "--model", "x"},
		Env:    map[string]string{"ANTHROPIC_API_KEY": "sk-secret"},
		Labels: map[string]string{"parallax.type": "claude", "parallax.name": "n"},
		Size:   runtime.Size{Cols: 120, Rows: 40},
	}
	p, err := r.check(r.cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	c, hc := p.create.Config, p.create.HostConfig
	if c.Image != "img/claude:1" || p.image != "img/claude:1" {
		t.Errorf("image %q, want the one configured for claude", c.Image)
	}
	if strings.Join(c.Entrypoint, " ") != "claude" || strings.Join(c.Cmd, " ") != "--model x" {
		t.Errorf("Entrypoint %q Cmd %q, want the argv split so the image's own entrypoint is replaced", c.Entrypoint, c.Cmd)
	}
	if !c.Tty || !c.OpenStdin || !c.AttachStdin || c.User != "1000:1000" {
		t.Errorf("Config %+v, want Tty, OpenStdin, AttachStdin and the configured user", c)
	}
	if strings.Join(c.Env, " ") != "ANTHROPIC_API_KEY=sk-secret TERM=xterm-256color" {
		t.Errorf("Env %q", c.Env)
	}
	for k, v := range c.Labels {
		if strings.Contains(v, "sk-secret") {
			t.Errorf("label %s carries a credential: %q", k, v)
		}
	}
	if c.Labels[labelManaged] != "true" || c.Labels[labelAgent] != "agent-1" || c.Labels[labelHostInstance] != "h1" ||
		c.Labels["team"] != "infra" || c.Labels[labelSpecLabels] != `{"parallax.name":"n","parallax.type":"claude"}` {
		t.Errorf("Labels %v", c.Labels)
	}
	if hc.NetworkMode != "bridge" || hc.Init == nil || !*hc.Init || hc.ConsoleSize != [2]uint{40, 120} {
		t.Errorf("HostConfig network %q init %v console %v", hc.NetworkMode, hc.Init, hc.ConsoleSize)
	}
	if len(hc.Mounts) != 0 || c.WorkingDir != "" {
		t.Errorf("no workdir, yet Mounts %v WorkingDir %q", hc.Mounts, c.WorkingDir)
	}
	if p.name != containerName("h1", "agent-1") || !strings.HasPrefix(p.name, "parallax-agent-1-") {
		t.Errorf("name %q", p.name)
	}
}

func TestCheckRejectsBadSpecs(t *testing.T) {
	r := configured(t, `{}`)
	tests := []struct {
		name    string
		spec    runtime.Spec
		mention string
	}{
		{"no id", runtime.Spec{Argv: []string{"sh"}}, "agent id"},
		{"no argv", runtime.Spec{ID: "a"}, "argv"},
		{"bad env name", runtime.Spec{ID: "a", Argv: []string{"sh"}, Env: map[string]string{"A=B": "c"}}, `env "A=B"`},
		{"relative workdir", runtime.Spec{ID: "a", Argv: []string{"sh"}, Workdir: "src"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.check(r.cfg, tt.spec)
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("check = %v; want ErrInvalidSpec mentioning %s", err, tt.mention)
			}
		})
	}
}

func TestWorkdirRoots(t *testing.T) {
	root := t.TempDir()
	inside := filepath.Join(root, "repo")
	outside := t.TempDir()
	escape := filepath.Join(root, "escape")
	for _, d := range []string{inside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, escape); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		roots   []string
		dir     string
		mention string // "" means allowed
	}{
		{"inside a root", []string{root}, inside, ""},
		{"the root itself", []string{root}, root, ""},
		{"no roots configured", nil, inside, `"workdir_roots" is empty`},
		{"outside every root", []string{root}, outside, "outside"},
		{"a symlink out of the root", []string{root}, escape, "outside"},
		{"missing", []string{root}, filepath.Join(root, "nope"), "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := allowedWorkdir(tt.dir, tt.roots)
			if tt.mention == "" {
				if err != nil {
					t.Fatal(err)
				}
				real, _ := filepath.EvalSymlinks(tt.dir)
				if src != real {
					t.Errorf("mount source %q, want %q", src, real)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("allowedWorkdir(%s) = %q, %v; want an error mentioning %s", tt.dir, src, err, tt.mention)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		state       container.State
		code        int
		signal      string
		wantsReason bool
	}{
		{container.State{ExitCode: 0}, 0, "", false},
		{container.State{ExitCode: 3}, 3, "", false},
		{container.State{ExitCode: 128}, 128, "", false},
		{container.State{ExitCode: 137}, -1, "SIGKILL", false},
		{container.State{ExitCode: 143}, -1, "SIGTERM", false},
		{container.State{ExitCode: 255}, 255, "", false},
		{container.State{ExitCode: 137, OOMKilled: true}, -1, "SIGKILL", true},
	}
	for _, tt := range tests {
		st := exitStatus(&tt.state)
		if st.Code != tt.code || st.Signal != tt.signal || (st.Reason != "") != tt.wantsReason {
			t.Errorf("exitStatus(code %d, oom %v) = %+v; want code %d signal %q", tt.state.ExitCode, tt.state.OOMKilled, st, tt.code, tt.signal)
		}
	}
}

func TestCPUPercent(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur cpuSample
		want      float64
	}{
		{"one core of two busy", cpuSample{100, 1000, 2}, cpuSample{600, 2000, 2}, 100},
		{"half a core of four", cpuSample{0, 1000, 4}, cpuSample{250, 3000, 4}, 50},
		{"no first sample", cpuSample{}, cpuSample{600, 2000, 2}, 0},
		{"counters went backwards", cpuSample{600, 2000, 2}, cpuSample{100, 1000, 2}, 0},
	}
	for _, tt := range tests {
		if got := cpuPercent(tt.prev, tt.cur); got != tt.want {
			t.Errorf("%s: cpuPercent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryBytesLeavesOutPageCache(t *testing.T) {
	tests := []struct {
		name string
		m    container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 300}}, 700},
		{"cgroup v2", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 400}}, 600},
		{"cache over usage is ignored", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 400}}, 100},
		{"no stats", container.MemoryStats{Usage: 100}, 100},
	}
	for _, tt := range tests {
		if got := memoryBytes(tt.m); got != tt.want {
			t.Errorf("%s: memoryBytes = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestContainerName(t *testing.T) {
	a, b := containerName("h1", "agent"), containerName("h2", "agent")
	if a == b {
		t.Errorf("two host instances share container name %q", a)
	}
	odd := containerName("h1", "Ünïcode/../id with spaces and a very long tail that goes on and on and on")
	for _, c := range odd {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			t.Fatalf("name %q holds %q, which the engine refuses", odd, c)
		}
	}
	if len(odd) > 64 {
		t.Errorf("name %q is %d long", odd, len(odd))
	}
}

func TestUnhealthyWithoutEngine(t *testing.T) {
	r := configured(t, `{"host": "unix:///nonexistent/docker.sock"}`)
	h, err := r.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Healthy || !strings.Contains(h.Message, "not reachable") || !strings.Contains(h.Message, "/nonexistent/docker.sock") {
		t.Errorf("Health = %+v; want unhealthy naming the socket", h)
	}
}
