package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// logBuffer collects a runtime's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// configure configures a runtime logging into logs, as the host does: with
// a data dir and the plugin config raw.
func configure(t *testing.T, host, dataDir string, config map[string]any, logs *logBuffer) (*Runtime, error) {
	t.Helper()
	raw, _ := json.Marshal(config)
	r := New(hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs}))
	err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: host, Config: raw, DataDir: dataDir})
	if err == nil {
		t.Cleanup(func() { cleanupRuntime(t, r) })
	}
	return r, err
}

func TestStateDirThatIsNotPrivateIsRefused(t *testing.T) {
	host := testHost(t)
	mkdir := func(t *testing.T, mode os.FileMode) string {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name string
		// setup returns the host's data dir, the state_dir attribute ("" for
		// none) and the path the error must name.
		setup    func(t *testing.T) (dataDir, stateDir, bad string)
		rootOnly bool
		want     []string
	}{
		{
			name: "state_dir writable by others",
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o777)
				return "", d, d
			},
			want: []string{`"state_dir"`, "-rwxrwxrwx", "chmod 700"},
		},
		{
			name: "state_dir writable by its group",
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o770)
				return "", d, d
			},
			want: []string{`"state_dir"`, "-rwxrwx---", "chmod 700"},
		},
		{
			name: "host data dir writable by others",
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o777)
				return d, "", d
			},
			want: []string{"data dir", `"state_dir"`, "chmod 700"},
		},
		{
			name: "instance dir writable by others",
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o700)
				inst := filepath.Join(d, fsName(host))
				if err := os.Mkdir(inst, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(inst, 0o777); err != nil {
					t.Fatal(err)
				}
				return d, "", inst
			},
			want: []string{"chmod 700"},
		},
		{
			name: "state_dir is a symlink",
			setup: func(t *testing.T) (string, string, string) {
				target := mkdir(t, 0o700)
				link := filepath.Join(t.TempDir(), "link")
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
				return "", link, link
			},
			want: []string{`"state_dir"`, "symbolic link", "rm "},
		},
		{
			name:     "state_dir owned by another user",
			rootOnly: true,
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o700)
				if err := os.Chown(d, 65534, 65534); err != nil {
					t.Fatal(err)
				}
				return "", d, d
			},
			want: []string{`"state_dir"`, "owned by uid 65534", "rm -r"},
		},
		{
			name:     "instance dir owned by another user",
			rootOnly: true,
			setup: func(t *testing.T) (string, string, string) {
				d := mkdir(t, 0o700)
				inst := filepath.Join(d, fsName(host))
				if err := os.Mkdir(inst, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(inst, 65534, 65534); err != nil {
					t.Fatal(err)
				}
				return "", d, inst
			},
			want: []string{`"state_dir"`, "owned by uid 65534", "rm -r"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rootOnly && os.Getuid() != 0 {
				t.Skip("needs root to give a directory to another user")
			}
			dataDir, stateDir, bad := tt.setup(t)
			config := map[string]any{"cgroups": cgroupsOff}
			if stateDir != "" {
				config["state_dir"] = stateDir
			}
			_, err := configure(t, host, dataDir, config, &logBuffer{})
			if err == nil {
				t.Fatal("Configure accepted the state dir")
			}
			for _, want := range append(tt.want, bad) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q doesn't say %q", err, want)
				}
			}
			if !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Errorf("error %v is not ErrInvalidSpec", err)
			}
		})
	}
}

func TestStateDirDefaultsToTheHostDataDir(t *testing.T) {
	host := testHost(t)
	dataDir := filepath.Join(t.TempDir(), "runtimes", "local")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	tests := []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"no state_dir", map[string]any{}, dataDir},
		{"state_dir overrides", map[string]any{"state_dir": other}, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.config["cgroups"] = cgroupsOff
			r, err := configure(t, host, dataDir, tt.config, &logBuffer{})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(tt.want, fsName(host)); r.state.dir != want {
				t.Errorf("state dir %s, want %s", r.state.dir, want)
			}
			fi, err := os.Lstat(r.state.dir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("state dir %s: %v, %v; want mode 0700", r.state.dir, fi, err)
			}
		})
	}
}

// foreignSleep starts a sleep outside any runtime, in its own process
// group, and kills it at the end of the test.
func foreignSleep(t *testing.T, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// Start returns once the exec is under way, but the kernel shows the
	// new environ only once the exec has laid it out.
	runtimetest.Eventually(t, patience, "the sleep's environ", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
		return err == nil && len(b) > 0
	}, nil)
	return cmd
}

// plant writes a record into the runtime's state dir as someone else
// would, not through the store.
func plant(t *testing.T, r *Runtime, rec record) string {
	t.Helper()
	b, _ := json.Marshal(rec)
	path := filepath.Join(r.state.dir, fsName(rec.ID)+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// foreignCgroup makes a cgroup2 directory under another host instance's
// tree, puts pid in it, and removes it at the end of the test.
func foreignCgroup(t *testing.T, r *Runtime, pid int) string {
	t.Helper()
	if r.cg.v2 == "" {
		t.Skip("no writable cgroup2 hierarchy here")
	}
	inst := filepath.Join(filepath.Dir(r.cg.v2), fmt.Sprintf("test-foreign-%06d", rand.IntN(1e6)))
	dir := filepath.Join(inst, "planted")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cgroup2 not writable here: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = killCgroup(ctx, dir)
		_ = removeCgroup(ctx, dir)
		_ = removeCgroup(ctx, inst)
	})
	if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		t.Skipf("cannot move a process into a cgroup here: %v", err)
	}
	return dir
}

func TestRecoverActsOnlyOnProcessesItCanConfirm(t *testing.T) {
	tests := []struct {
		name string
		// env is the sleep's extra env; "$MARKER" entries become this
		// runtime's marker for agent "planted".
		env         []string
		startOffset uint64 // added to the real start time in the record
		inCgroup    bool   // the record names another instance's cgroup holding the sleep
		wantKilled  bool
	}{
		{name: "a process of someone else", wantKilled: false},
		{name: "a reused pid carrying the marker", env: []string{"$MARKER"}, startOffset: 1, wantKilled: false},
		{name: "another agent's marker", env: []string{envAgentID + "=someone-else", envHostInstance + "=$HOST"}, wantKilled: false},
		{name: "another host instance's marker", env: []string{envAgentID + "=planted", envHostInstance + "=another-host"}, wantKilled: false},
		{name: "a cgroup outside this instance", inCgroup: true, wantKilled: false},
		// The control: a record that is ours is still cleaned up.
		{name: "this agent's marker and start time", env: []string{"$MARKER"}, wantKilled: true},
	}
	for _, mode := range []string{cgroupsAuto, cgroupsOff} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				if tt.inCgroup && mode == cgroupsOff {
					t.Skip("needs cgroups")
				}
				host := testHost(t)
				logs := &logBuffer{}
				r, err := configure(t, host, "", map[string]any{"state_dir": t.TempDir(), "cgroups": mode}, logs)
				if err != nil {
					t.Fatal(err)
				}
				var env []string
				for _, e := range tt.env {
					if e == "$MARKER" {
						env = append(env, marker(host, "planted")...)
						continue
					}
					env = append(env, strings.ReplaceAll(e, "$HOST", host))
				}
				sleep := foreignSleep(t, env)
				pid := sleep.Process.Pid
				ps, ok := readProcStat(pid)
				if !ok {
					t.Fatal("cannot read the sleep's /proc stat")
				}
				rec := record{ID: "planted", HostInstance: host, PID: pid, PIDStart: ps.startTicks + tt.startOffset, StartedAt: time.Now()}
				if tt.inCgroup {
					rec.Cgroups = []string{foreignCgroup(t, r, pid)}
				}
				path := plant(t, r, rec)

				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				if _, err := r.Recover(ctx); err != nil {
					t.Fatalf("Recover: %v", err)
				}
				if tt.wantKilled {
					if alive(pid) {
						t.Errorf("the agent's leftover process %d survived Recover", pid)
					}
				} else {
					if !alive(pid) || syscall.Kill(-pid, 0) != nil {
						t.Errorf("Recover killed process %d, which a record named but which is not this runtime's agent", pid)
					}
					if !strings.Contains(logs.String(), "refused agent record") || !strings.Contains(logs.String(), path) {
						t.Errorf("the log doesn't say the record %s was refused:\n%s", path, logs.String())
					}
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("record %s left after Recover: %v", path, err)
				}
			})
		}
	}
}

func TestCloseRemovesStateAndCgroupsOnceNoAgentIsLeft(t *testing.T) {
	tests := []struct {
		name      string
		leaveOne  bool // an agent still runs at Close
		wantClean bool
	}{
		{name: "no agent left", wantClean: true},
		{name: "an agent still running", leaveOne: true, wantClean: false},
	}
	for _, mode := range []string{cgroupsAuto, cgroupsOff} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				stateDir := t.TempDir()
				r := newRuntime(t, options{stateDir: stateDir, config: map[string]any{"cgroups": mode}})
				start(t, r, runtime.Spec{ID: "done", Argv: []string{"sleep", "300"}})
				stop(t, r, "done", runtime.StopOptions{Force: true})
				if tt.leaveOne {
					start(t, r, runtime.Spec{ID: "running", Argv: []string{"sleep", "300"}})
				}
				bases := r.cg.bases()
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				if err := r.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
				for _, dir := range append([]string{r.state.dir}, bases...) {
					_, err := os.Stat(dir)
					if gone := errors.Is(err, os.ErrNotExist); gone != tt.wantClean {
						t.Errorf("after Close, %s removed = %v (stat: %v), want %v", dir, gone, err, tt.wantClean)
					}
				}
				if _, err := os.Stat(stateDir); err != nil {
					t.Errorf("Close removed state_dir itself, which holds other instances: %v", err)
				}
			})
		}
	}
}

func TestRecoverRemovesEmptyCgroupsOfOtherInstancesOnly(t *testing.T) {
	r := newRuntime(t, options{})
	if len(r.cg.bases()) == 0 {
		t.Skip("no writable cgroups here: " + r.cg.describe())
	}
	suffix := fmt.Sprintf("%06d", rand.IntN(1e6))
	empty, busy := "test-leftover-"+suffix, "test-busy-"+suffix
	sleep := foreignSleep(t, nil)
	var emptyDirs, busyDirs []string
	for _, base := range r.cg.bases() {
		root := filepath.Dir(base)
		for _, d := range []string{filepath.Join(root, empty, "agent"), filepath.Join(root, busy, "agent")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		emptyDirs = append(emptyDirs, filepath.Join(root, empty))
		busyDirs = append(busyDirs, filepath.Join(root, busy))
		if err := writeFile(filepath.Join(root, busy, "agent", "cgroup.procs"), strconv.Itoa(sleep.Process.Pid)); err != nil {
			t.Fatalf("cannot move a process into %s: %v", root, err)
		}
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-sleep.Process.Pid, syscall.SIGKILL)
		_ = sleep.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		for _, d := range append(emptyDirs, busyDirs...) {
			_ = removeCgroup(ctx, filepath.Join(d, "agent"))
			_ = removeCgroup(ctx, d)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := r.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	for _, d := range emptyDirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("empty leftover cgroup %s not removed: %v", d, err)
		}
	}
	for _, d := range busyDirs {
		if _, err := os.Stat(filepath.Join(d, "agent")); err != nil {
			t.Errorf("cgroup %s of a live instance removed: %v", d, err)
		}
	}
	if !alive(sleep.Process.Pid) {
		t.Error("the sweep killed a process of a live instance")
	}
	// This instance's own base stays, and it still starts agents.
	info := start(t, r, runtime.Spec{ID: "after-sweep", Argv: []string{"sleep", "300"}})
	if !alive(info.PID) {
		t.Error("agent not running after the sweep")
	}
}

func TestAgentCgroupIsMadeAgainAfterAnotherInstanceSweptTheBase(t *testing.T) {
	r := newRuntime(t, options{})
	if r.cg.v2 == "" || r.cg.cloneBroken.Load() {
		t.Skip("no cgroup2 tracking here: " + r.cg.describe())
	}
	// Another instance's sweep: this one has no agent, so its base is empty.
	if err := removeCgroupTree(r.cg.v2); err != nil {
		t.Fatal(err)
	}
	info := start(t, r, runtime.Spec{ID: "tracked", Argv: []string{"sleep", "300"}})
	a, err := r.agents.Get("tracked")
	if err != nil {
		t.Fatal(err)
	}
	if a.cg.track != filepath.Join(r.cg.v2, "tracked") || len(info.Warnings) != 0 {
		t.Fatalf("agent tracked by %q with warnings %v; want its cgroup2 directory", a.cg.track, info.Warnings)
	}
	if pids := a.cg.procs(); len(pids) != 1 || pids[0] != info.PID {
		t.Errorf("agent's cgroup holds %v, want [%d]", pids, info.PID)
	}
}
