package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStartTicks reads a process's start time (field 22 of /proc/<pid>/stat),
// which runtime-local records to tell a reused pid apart.
func procStartTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+2:]))
	n, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A record planted in runtime-local's state dir, naming a process that is
// not the runtime's, must not get that process killed when the host starts
// again; and a clean shutdown leaves no state behind.
func TestLocalRuntimeLeavesAProcessAPlantedRecordNamesAlone(t *testing.T) {
	path := writeConfig(t, "")
	dataDir := filepath.Join(filepath.Dir(path), "data")

	h := startHost(t, path)
	h.stop()
	b, err := os.ReadFile(filepath.Join(dataDir, "instance-id"))
	if err != nil {
		t.Fatal(err)
	}
	instance := strings.TrimSpace(string(b))
	stateDir := filepath.Join(dataDir, "runtimes", "local", instance)
	// The clean shutdown removed the instance's state, as it had no agent.
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s left after a clean shutdown: %v", stateDir, err)
	}

	// Someone else's process, in its own process group, as a shell job.
	sleep := exec.Command("sleep", "300")
	sleep.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleep.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = sleep.Wait()
	})
	rec, _ := json.Marshal(map[string]any{
		"id": "planted", "host_instance": instance, "pid": pid,
		"pid_start": procStartTicks(t, pid), "started_at": time.Now(),
	})
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	recPath := filepath.Join(stateDir, "planted.json")
	if err := os.WriteFile(recPath, rec, 0o600); err != nil {
		t.Fatal(err)
	}

	h = startHost(t, path)
	eventually(t, "the host to log the refused record", func() bool {
		return strings.Contains(h.logs(), "refused agent record")
	})
	if !strings.Contains(h.logs(), recPath) {
		t.Errorf("the log doesn't name the record %s:\n%s", recPath, h.logs())
	}
	if syscall.Kill(-pid, 0) != nil || procState(pid) == "Z" {
		t.Errorf("the restarted host killed process %d, which only a planted record named", pid)
	}
	if _, err := os.Stat(recPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused record %s not removed: %v", recPath, err)
	}
}

// procState is the state letter in /proc/<pid>/stat, "" when gone.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}
