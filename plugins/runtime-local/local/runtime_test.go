package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

func TestDescribe(t *testing.T) {
	r := New(nil)
	info, err := r.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "local" || info.DefaultPriority != 10 || info.Version != Version || !info.Capabilities.Timeout {
		t.Errorf("Describe = %+v", info)
	}
	if info.Capabilities.CPULimit || info.Capabilities.MemoryLimit {
		t.Errorf("limits claimed before Configure probed them: %+v", info.Capabilities)
	}
	var names []string
	for _, a := range info.ConfigSchema {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "state_dir,default_stop_timeout,scrollback_bytes,cgroups" {
		t.Errorf("schema attributes = %s", got)
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
		t.Errorf("healthy before Configure")
	}
}

func TestConfigureRejectsBadConfig(t *testing.T) {
	tests := []struct {
		config string
		attr   string
	}{
		{`{"cgroups": "sometimes"}`, "cgroups"},
		{`{"default_stop_timeout": "soon"}`, "default_stop_timeout"},
		{`{"default_stop_timeout": "-1s"}`, "default_stop_timeout"},
		{`{"scrollback_bytes": -5}`, "scrollback_bytes"},
		{`{"scrollback_bytes": 1.5}`, "scrollback_bytes"},
		{`{"state_dir": "relative/dir"}`, "state_dir"},
		{`{"state_dir": 3}`, "state_dir"},
		{`{"colour": "blue"}`, "colour"},
		{`[1]`, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			err := New(nil).Configure(context.Background(), runtime.ConfigureRequest{HostInstance: "h", Config: []byte(tt.config)})
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.attr) {
				t.Errorf("Configure(%s) = %v; want ErrInvalidSpec naming %s", tt.config, err, tt.attr)
			}
		})
	}
}

func TestStartAttachEcho(t *testing.T) {
	r := newRuntime(t, options{})
	start(t, r, runtime.Spec{ID: "cat", Argv: []string{"cat"}})
	c, out := capture(t, r, "cat")
	if _, err := c.Write([]byte("hello parallax\r")); err != nil {
		t.Fatal(err)
	}
	// Once from the terminal's echo, once from cat.
	out.waitFor(t, "hello parallax", 2)
}

func TestOutputBeforeAttachIsReplayed(t *testing.T) {
	t.Run("exited", func(t *testing.T) {
		r := newRuntime(t, options{})
		start(t, r, runtime.Spec{ID: "early", Argv: sh("echo early-bird")})
		wait(t, r, "early")
		for range 2 {
			_, out := capture(t, r, "early")
			if got := out.waitEOF(t); !strings.Contains(got, "early-bird") {
				t.Errorf("replay = %q", got)
			}
		}
	})
	t.Run("running", func(t *testing.T) {
		r := newRuntime(t, options{})
		start(t, r, runtime.Spec{ID: "chat", Argv: sh("echo first; read x; echo second")})
		_, first := capture(t, r, "chat")
		first.waitFor(t, "first", 1)
		c, late := capture(t, r, "chat")
		late.waitFor(t, "first", 1)
		if _, err := c.Write([]byte("\r")); err != nil {
			t.Fatal(err)
		}
		for _, out := range []*output{first, late} {
			if got := out.waitEOF(t); !strings.Contains(got, "second") {
				t.Errorf("output = %q", got)
			}
		}
	})
}

func TestSlowReaderBlocksNobody(t *testing.T) {
	r := newRuntime(t, options{config: map[string]any{"scrollback_bytes": 4096}})
	start(t, r, runtime.Spec{ID: "flood", Argv: sh("read x; yes | head -c 2000000; echo; echo END")})
	stalled, err := r.Attach(context.Background(), "flood") // never read
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	c, out := capture(t, r, "flood")
	if _, err := c.Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, r, "flood"); st.Code != 0 {
		t.Errorf("exit = %+v", st)
	}
	if got := out.waitEOF(t); !strings.HasSuffix(got, "END\r\n") {
		t.Errorf("output ends %q", got[max(0, len(got)-20):])
	}
	// The stalled reader gets what the ring still holds, then EOF.
	b := make([]byte, 1<<20)
	var got []byte
	for {
		n, err := stalled.Read(b)
		got = append(got, b[:n]...)
		if err != nil {
			break
		}
	}
	if len(got) > 4096 || !strings.HasSuffix(string(got), "END\r\n") {
		t.Errorf("stalled reader got %d bytes ending %q", len(got), got[max(0, len(got)-20):])
	}
}

func TestEnvAndWorkdir(t *testing.T) {
	t.Setenv("PARALLAX_TEST_LEAK", "leaked")
	dir := t.TempDir()
	script := `echo "foo=$FOO term=$TERM id=$PARALLAX_AGENT_ID leak=$PARALLAX_TEST_LEAK"; echo "pwd=$(pwd)"`
	tests := []struct {
		name    string
		env     map[string]string
		workdir string
		want    []string
	}{
		{"defaults", map[string]string{"FOO": "bar"}, dir,
			[]string{"foo=bar term=xterm-256color id=defaults leak=\r", "pwd=" + dir}},
		{"term given", map[string]string{"TERM": "dumb"}, "/",
			[]string{"term=dumb id=term-given", "pwd=/\r"}},
		{"marker not overridable", map[string]string{"PARALLAX_AGENT_ID": "other"}, dir,
			[]string{"id=marker-not-overridable"}},
	}
	r := newRuntime(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			start(t, r, runtime.Spec{ID: id, Argv: sh(script), Env: tt.env, Workdir: tt.workdir})
			_, out := capture(t, r, id)
			got := out.waitEOF(t)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output %q lacks %q", got, w)
				}
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   runtime.ExitStatus
	}{
		{"success", "exit 0", runtime.ExitStatus{Code: 0, Reason: "exited"}},
		{"code", "exit 3", runtime.ExitStatus{Code: 3, Reason: "exited"}},
		{"sigterm", "kill -TERM $$", runtime.ExitStatus{Code: -1, Signal: "SIGTERM", Reason: "exited"}},
		{"sigkill", "kill -KILL $$", runtime.ExitStatus{Code: -1, Signal: "SIGKILL", Reason: "exited"}},
	}
	r := newRuntime(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start(t, r, runtime.Spec{ID: tt.name, Argv: sh(tt.script)})
			got := wait(t, r, tt.name)
			got.ExitedAt = time.Time{}
			if got != tt.want {
				t.Errorf("exit = %+v, want %+v", got, tt.want)
			}
			info, err := r.Inspect(context.Background(), tt.name)
			if err != nil || info.State != runtime.StateExited || info.Exit == nil || info.Exit.Code != tt.want.Code {
				t.Errorf("Inspect = %+v, %v", info, err)
			}
		})
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name   string
		script string
		opts   runtime.StopOptions
		want   runtime.ExitStatus
	}{
		{"graceful trap", `trap "echo bye-from-trap; exit 7" TERM; echo ready; while :; do sleep 1; done`,
			runtime.StopOptions{Timeout: patience}, runtime.ExitStatus{Code: 7, Reason: "stopped"}},
		{"graceful default", `echo ready; exec sleep 300`,
			runtime.StopOptions{}, runtime.ExitStatus{Code: -1, Signal: "SIGTERM", Reason: "stopped"}},
		{"term ignored escalates", `trap "" TERM; echo ready; while :; do sleep 1; done`,
			runtime.StopOptions{Timeout: 200 * time.Millisecond}, runtime.ExitStatus{Code: -1, Signal: "SIGKILL", Reason: "killed"}},
		{"force", `trap "exit 7" TERM; echo ready; while :; do sleep 1; done`,
			runtime.StopOptions{Force: true}, runtime.ExitStatus{Code: -1, Signal: "SIGKILL", Reason: "killed"}},
	}
	r := newRuntime(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			start(t, r, runtime.Spec{ID: id, Argv: sh(tt.script)})
			_, out := capture(t, r, id)
			out.waitFor(t, "ready", 1) // the trap is set
			got := stop(t, r, id, tt.opts)
			got.ExitedAt = time.Time{}
			if got != tt.want {
				t.Errorf("exit = %+v, want %+v", got, tt.want)
			}
			if _, err := r.Inspect(context.Background(), id); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("Inspect after Stop: %v, want ErrNotFound", err)
			}
			// What the agent printed while stopping reaches the reader before EOF.
			if got := out.waitEOF(t); tt.want.Code == 7 && !strings.Contains(got, "bye-from-trap") {
				t.Errorf("output = %q, want the trap's last words", got)
			}
		})
	}
}

func TestStopExitedAgent(t *testing.T) {
	r := newRuntime(t, options{})
	ctx := context.Background()
	start(t, r, runtime.Spec{ID: "done", Argv: []string{"true"}})
	wait(t, r, "done")
	if err := r.Stop(ctx, "done", runtime.StopOptions{}); err != nil {
		t.Fatalf("Stop exited agent: %v", err)
	}
	if err := r.Stop(ctx, "done", runtime.StopOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Stop: %v, want ErrNotFound", err)
	}
	// The id is free again.
	start(t, r, runtime.Spec{ID: "done", Argv: []string{"true"}})
}

// A daemon that double-forks into its own session, as the Codex CLI's
// app-server does, must die with its agent.
func TestStopKillsDaemons(t *testing.T) {
	tests := []struct {
		name     string
		cgroups  string
		clearEnv bool // only a cgroup can find it then
	}{
		{"cgroup", cgroupsAuto, false},
		{"cgroup env cleared", cgroupsAuto, true},
		{"env marker", cgroupsOff, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuntime(t, options{config: map[string]any{"cgroups": tt.cgroups}})
			if tt.cgroups == cgroupsAuto && r.cg.v2 == "" {
				t.Skip("no writable cgroup2 here: " + r.cg.describe())
			}
			pidFile := tempFile(t, "daemon.pid")
			daemon := "sleep 300"
			if tt.clearEnv {
				daemon = "env -i sleep 300"
			}
			script := fmt.Sprintf(`setsid sh -c '%s </dev/null >/dev/null 2>&1 & echo $! > "$1"' sh "$1"; echo started; exec sleep 300`, daemon)
			info := start(t, r, runtime.Spec{ID: "codex", Argv: sh(script, pidFile)})
			pid := readPidFile(t, pidFile)
			if p, ok := readProcStat(pid); !ok || !p.alive() || p.session == info.PID || p.pgrp == info.PID {
				t.Fatalf("daemon %d not running outside the agent's session: %+v", pid, p)
			}
			stop(t, r, "codex", runtime.StopOptions{})
			if alive(pid) {
				t.Fatalf("daemon %d survived Stop", pid)
			}
			// We are its subreaper, so it is reaped too, not left a zombie.
			runtimetest.Eventually(t, patience, fmt.Sprintf("daemon %d to be reaped", pid), func() bool {
				_, err := os.Stat("/proc/" + strconv.Itoa(pid))
				return err != nil
			}, nil)
		})
	}
}

func TestStopRemovesCgroups(t *testing.T) {
	r := newRuntime(t, options{})
	if r.cg.v2 == "" && len(r.cg.v1) == 0 {
		t.Skip("no writable cgroups here")
	}
	start(t, r, runtime.Spec{ID: "cg", Argv: []string{"sleep", "300"}, Resources: runtime.Resources{CPU: "500m", Memory: "256Mi"}})
	a, _ := r.agents.Get("cg")
	dirs := append([]string(nil), a.cg.dirs...)
	if len(dirs) == 0 {
		t.Fatal("no cgroups made")
	}
	stop(t, r, "cg", runtime.StopOptions{Force: true})
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", d, err)
		}
	}
}

func TestTimeout(t *testing.T) {
	r := newRuntime(t, options{})
	start(t, r, runtime.Spec{ID: "slow", Argv: []string{"sleep", "300"}, Resources: runtime.Resources{Timeout: 100 * time.Millisecond}})
	got := wait(t, r, "slow")
	if got.Reason != "timeout" || got.Signal != "SIGTERM" {
		t.Errorf("exit = %+v, want SIGTERM for timeout", got)
	}
}

func TestMemoryLimit(t *testing.T) {
	r := newRuntime(t, options{})
	info, _ := r.Describe(context.Background())
	spec := runtime.Spec{
		ID:        "hog",
		Argv:      sh(`x=$(head -c 300000000 /dev/zero | tr '\0' a); echo survived`),
		Resources: runtime.Resources{Memory: "32Mi"},
	}
	if !info.Capabilities.MemoryLimit {
		got := start(t, r, spec)
		if len(got.Warnings) == 0 || !strings.Contains(got.Warnings[0], "memory limit 32Mi not enforced") {
			t.Errorf("warnings = %q", got.Warnings)
		}
		t.Skip("no writable memory cgroup here; checked the warning instead")
	}
	got := start(t, r, spec)
	if len(got.Warnings) != 0 {
		t.Errorf("warnings = %q", got.Warnings)
	}
	_, out := capture(t, r, "hog")
	st := wait(t, r, "hog")
	if st.Signal != "SIGKILL" || strings.Contains(out.waitEOF(t), "survived") {
		t.Errorf("exit = %+v, output %q; want the OOM killer's SIGKILL", st, out.String())
	}
}

func TestCPULimitApplied(t *testing.T) {
	r := newRuntime(t, options{})
	info, _ := r.Describe(context.Background())
	if !info.Capabilities.CPULimit {
		t.Skip("no writable cpu cgroup here")
	}
	got := start(t, r, runtime.Spec{ID: "cpu", Argv: []string{"sleep", "300"}, Resources: runtime.Resources{CPU: "250m"}})
	if len(got.Warnings) != 0 {
		t.Errorf("warnings = %q", got.Warnings)
	}
	a, _ := r.agents.Get("cpu")
	var quota string
	for _, d := range a.cg.dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			quota = strings.TrimSpace(string(b))
		}
		if b, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil {
			quota, _, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
		}
	}
	if quota != "25000" {
		t.Errorf("quota = %q, want 25000 of 100000", quota)
	}
}

func TestLimitWarningsWithoutCgroups(t *testing.T) {
	r := newRuntime(t, options{config: map[string]any{"cgroups": "off"}})
	info, _ := r.Describe(context.Background())
	if info.Capabilities.CPULimit || info.Capabilities.MemoryLimit {
		t.Errorf("capabilities = %+v with cgroups off", info.Capabilities)
	}
	got := start(t, r, runtime.Spec{ID: "w", Argv: []string{"sleep", "300"}, Resources: runtime.Resources{CPU: "500m", Memory: "64Mi"}})
	want := []string{"cpu limit 500m not enforced", "memory limit 64Mi not enforced"}
	if len(got.Warnings) != len(want) {
		t.Fatalf("warnings = %q", got.Warnings)
	}
	for i, w := range want {
		if !strings.Contains(got.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q", i, got.Warnings[i], w)
		}
	}
}

func TestStatsOfBusyAgent(t *testing.T) {
	for _, mode := range []string{cgroupsAuto, cgroupsOff} {
		t.Run(mode, func(t *testing.T) {
			r := newRuntime(t, options{config: map[string]any{"cgroups": mode}})
			start(t, r, runtime.Spec{ID: "busy", Argv: sh("while :; do :; done")})
			var st runtime.Stats
			runtimetest.Eventually(t, patience, "stats of a busy agent", func() bool {
				var err error
				st, err = r.Stats(context.Background(), "busy")
				if err != nil {
					t.Fatal(err)
				}
				return st.CPUPercent > 0 && st.MemoryBytes > 0 && st.Processes >= 1 && st.Uptime > 0
			}, func() string { return fmt.Sprintf("stats = %+v", st) })
		})
	}
}

func TestResize(t *testing.T) {
	r := newRuntime(t, options{})
	start(t, r, runtime.Spec{ID: "tty", Argv: sh("stty size; read x; stty size"), Size: runtime.Size{Cols: 100, Rows: 30}})
	c, out := capture(t, r, "tty")
	out.waitFor(t, "30 100", 1)
	if err := r.Resize(context.Background(), "tty", runtime.Size{Cols: 132, Rows: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "50 132", 1)
}

func TestDefaultSize(t *testing.T) {
	r := newRuntime(t, options{})
	start(t, r, runtime.Spec{ID: "tty", Argv: sh("stty size")})
	_, out := capture(t, r, "tty")
	if got := out.waitEOF(t); !strings.Contains(got, "24 80") {
		t.Errorf("size = %q, want 24 80", got)
	}
}

func TestUnknownID(t *testing.T) {
	r := newRuntime(t, options{})
	ctx := context.Background()
	calls := map[string]func() error{
		"Attach":  func() error { _, err := r.Attach(ctx, "nope"); return err },
		"Stop":    func() error { return r.Stop(ctx, "nope", runtime.StopOptions{}) },
		"Wait":    func() error { _, err := r.Wait(ctx, "nope"); return err },
		"Inspect": func() error { _, err := r.Inspect(ctx, "nope"); return err },
		"Resize":  func() error { return r.Resize(ctx, "nope", runtime.Size{Cols: 1, Rows: 1}) },
		"Stats":   func() error { _, err := r.Stats(ctx, "nope"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestStartRejectsBadSpec(t *testing.T) {
	r := newRuntime(t, options{})
	start(t, r, runtime.Spec{ID: "taken", Argv: []string{"sleep", "300"}})
	tests := []struct {
		name string
		spec runtime.Spec
		want error
		text string
	}{
		{"empty argv", runtime.Spec{ID: "x"}, runtime.ErrInvalidSpec, "argv"},
		{"no id", runtime.Spec{Argv: []string{"true"}}, runtime.ErrInvalidSpec, "id"},
		{"not in PATH", runtime.Spec{ID: "x", Argv: []string{"no-such-agent-cli"}}, runtime.ErrInvalidSpec, "no-such-agent-cli"},
		{"missing path", runtime.Spec{ID: "x", Argv: []string{"/no/such/bin"}}, runtime.ErrInvalidSpec, "/no/such/bin"},
		{"missing workdir", runtime.Spec{ID: "x", Argv: []string{"true"}, Workdir: "/no/such/dir"}, runtime.ErrInvalidSpec, "/no/such/dir"},
		{"relative workdir", runtime.Spec{ID: "x", Argv: []string{"true"}, Workdir: "rel"}, runtime.ErrInvalidSpec, "absolute"},
		{"bad cpu", runtime.Spec{ID: "x", Argv: []string{"true"}, Resources: runtime.Resources{CPU: "lots"}}, runtime.ErrInvalidSpec, "cpu"},
		{"bad memory", runtime.Spec{ID: "x", Argv: []string{"true"}, Resources: runtime.Resources{Memory: "2GB"}}, runtime.ErrInvalidSpec, "memory"},
		{"bad env", runtime.Spec{ID: "x", Argv: []string{"true"}, Env: map[string]string{"A=B": "c"}}, runtime.ErrInvalidSpec, "env"},
		{"duplicate", runtime.Spec{ID: "taken", Argv: []string{"true"}}, runtime.ErrAlreadyExists, "taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Start(context.Background(), tt.spec)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Start = %v; want %v mentioning %q", err, tt.want, tt.text)
			}
		})
	}
	if infos, _ := r.List(context.Background()); len(infos) != 1 {
		t.Errorf("List = %+v; failed starts left agents", infos)
	}
}

func TestConcurrentStarts(t *testing.T) {
	const n = 50
	r := newRuntime(t, options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := r.Start(ctx, runtime.Spec{ID: fmt.Sprintf("a%02d", i), Argv: []string{"sleep", "300"}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	infos, _ := r.List(ctx)
	pids := map[int]bool{}
	for _, info := range infos {
		pids[info.PID] = true
	}
	if len(infos) != n || len(pids) != n {
		t.Fatalf("List has %d agents with %d pids, want %d", len(infos), len(pids), n)
	}
	if h, _ := r.Health(ctx); h.ActiveAgents != n {
		t.Errorf("Health = %+v", h)
	}
	for _, info := range infos {
		wg.Go(func() {
			if err := r.Stop(ctx, info.ID, runtime.StopOptions{}); err != nil {
				t.Error(err)
			}
			if alive(info.PID) {
				t.Errorf("agent %s (pid %d) alive after Stop", info.ID, info.PID)
			}
		})
	}
	wg.Wait()
}

func TestRecover(t *testing.T) {
	for _, mode := range []string{cgroupsAuto, cgroupsOff} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			stateDir := t.TempDir()
			host, other := testHost(t), testHost(t)+"-other"
			cfg := map[string]any{"cgroups": mode}

			// An earlier plugin process: it dies without stopping its agent.
			old := newRuntime(t, options{host: host, stateDir: stateDir, config: cfg})
			pidFile := tempFile(t, "daemon.pid")
			start(t, old, runtime.Spec{ID: "left", Argv: sh(`setsid sh -c 'sleep 300 & echo $! > "$1"' sh "$1"; exec sleep 300`, pidFile)})
			daemon := readPidFile(t, pidFile)
			oldInfo, _ := old.Inspect(ctx, "left")

			// Another host's agent, on the same state dir, must survive.
			neighbour := newRuntime(t, options{host: other, stateDir: stateDir, config: cfg})
			theirs := start(t, neighbour, runtime.Spec{ID: "left", Argv: []string{"sleep", "300"}})

			fresh := newRuntime(t, options{host: host, stateDir: stateDir, config: cfg})
			adopted, err := fresh.Recover(ctx)
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			if len(adopted) != 0 {
				t.Errorf("Recover adopted %+v", adopted)
			}
			for _, pid := range []int{oldInfo.PID, daemon} {
				if alive(pid) {
					t.Errorf("leftover pid %d survived Recover", pid)
				}
			}
			if !alive(theirs.PID) {
				t.Errorf("Recover killed another host instance's agent")
			}
			if recs, _ := fresh.state.load(); len(recs) != 0 {
				t.Errorf("records left: %+v", recs)
			}
			// The id and its cgroup name are free again.
			start(t, fresh, runtime.Spec{ID: "left", Argv: []string{"true"}})
		})
	}
}

func BenchmarkStart(b *testing.B) {
	r := newRuntime(b, options{})
	ctx := context.Background()
	var ids []string
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		if _, err := r.Start(ctx, runtime.Spec{ID: id, Argv: []string{"sleep", "300"}}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	b.StopTimer()
	for _, id := range ids {
		_ = r.Stop(ctx, id, runtime.StopOptions{Force: true})
	}
}
