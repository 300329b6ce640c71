//go:build linux

package plugin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
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

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// helperHostEnv makes the test binary a host: it launches the plugin this
// names, prints the reattach record and waits to be killed.
const helperHostEnv = "PLUGINTEST_HELPER_HOST"

// helperHost is the host process of TestPluginOutlivesItsHost. The
// plugin's log file is $PLUGINTEST_LOG; without it, the plugin is
// launched as by default.
func helperHost() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts []plugin.LaunchOption
	if path := os.Getenv("PLUGINTEST_LOG"); path != "" {
		opts = append(opts, plugin.WithOutliveHost(path))
	}
	c, err := plugin.Launch(ctx, os.Getenv(helperHostEnv), hclog.NewNullLogger(), opts...)
	if err == nil {
		// The plugin logs and writes to fd 1 while its host is alive.
		_, err = c.Describe(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(c.ReattachConfig()); err != nil {
		return 1
	}
	time.Sleep(time.Hour)
	return 0
}

// becomeSubreaper makes this process the parent of the plugins whose host
// died, so that the test can reap them: the init of a container may not,
// and a zombie looks alive.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
}

// gone reaps pid, an orphan of a dead helper host, if it exited, and
// reports whether it did.
func gone(pid int) bool {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	return syscall.Kill(pid, 0) != nil
}

// startHelperHost runs a helper host that launches the fake plugin with
// env, kills the host with SIGKILL once the plugin is up, and returns the
// plugin's reattach record.
func startHelperHost(t *testing.T, path string, env ...string) plugin.ReattachConfig {
	t.Helper()
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(append(os.Environ(), helperHostEnv+"="+path), env...)
	var stderr bytes.Buffer
	host.Stderr = &stderr
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	_ = host.Process.Kill()
	_ = host.Wait()
	var rc plugin.ReattachConfig
	if err == nil {
		err = json.Unmarshal([]byte(line), &rc)
	}
	if err != nil {
		t.Fatalf("helper host: %v; its stderr:\n%s", err, stderr.String())
	}
	// The plugin is our child now; it must not outlive the test.
	t.Cleanup(func() {
		_ = syscall.Kill(rc.PID, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(rc.PID, &ws, 0, nil)
	})
	return rc
}

func TestPluginOutlivesItsHostOnlyWhenAsked(t *testing.T) {
	path := buildFakePlugin(t)
	becomeSubreaper(t)
	tests := []struct {
		name    string
		outlive bool
	}{
		{"by default the plugin dies with its host", false},
		{"WithOutliveHost the plugin survives its host", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logPath := ""
			if tt.outlive {
				logPath = filepath.Join(t.TempDir(), "plugin.log")
			}
			marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
			rc := startHelperHost(t, path, "PLUGINTEST_LOG="+logPath, "FAKEPLUGIN_MARKER="+marker, "FAKEPLUGIN_WRITE_FD1=1")
			if !tt.outlive {
				runtimetest.Eventually(t, 10*time.Second, "the plugin to die with its host",
					func() bool { return gone(rc.PID) }, nil)
				return
			}
			if gone(rc.PID) {
				t.Fatal("the plugin died with its host")
			}
			testReattach(t, rc, logPath, marker)
		})
	}
}

// testReattach reattaches to the plugin whose host died, checks it works
// and logged meanwhile, and kills it.
func testReattach(t *testing.T, rc plugin.ReattachConfig, logPath, marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := plugin.Reattach(ctx, rc, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if c.PID() != rc.PID || c.ReattachConfig() != rc {
		t.Errorf("reattached client: PID %d, %+v; want %+v", c.PID(), c.ReattachConfig(), rc)
	}
	// Describe writes to fd 1, the dead host's pipe, once more.
	if info, err := c.Describe(ctx); err != nil || info.Name != "fakeplugin" {
		t.Fatalf("Describe after the host died = %+v, %v", info, err)
	}
	if h, err := c.Health(ctx); err != nil || !h.Healthy {
		t.Fatalf("Health after the host died = %+v, %v", h, err)
	}

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file: %v, %v; want mode 0600", fi, err)
	}
	// Both Describes logged in JSON, and their stray stdout went to the
	// log too; only the second one's write to fd 1 found the host gone,
	// and failed with EPIPE instead of killing the plugin.
	var described, stray int
	var fd1 []string
	for line := range strings.Lines(string(b)) {
		var entry map[string]any
		_ = json.Unmarshal([]byte(line), &entry)
		switch {
		case entry["@message"] == "describing" && entry["marker"] == marker:
			described++
		case entry["@message"] == "wrote to fd 1":
			fd1 = append(fd1, fmt.Sprint(entry["error"]))
		case line == "stdout "+marker+"\n":
			stray++
		}
	}
	if described != 2 || stray != 2 || len(fd1) != 2 || fd1[0] != "<nil>" || !strings.Contains(fd1[1], "broken pipe") {
		t.Errorf("log: %d Describe entries, %d stray stdout lines, fd 1 writes failing with %q; "+
			"want 2, 2 and [<nil>, broken pipe]; log:\n%s", described, stray, fd1, b)
	}

	// Not reaped yet: Exited must see the zombie.
	c.Kill()
	runtimetest.Eventually(t, 10*time.Second, "Exited() after Kill", c.Exited, nil)
	if !gone(rc.PID) {
		t.Error("the plugin is alive after Kill")
	}
}

func TestReattachFailsClearly(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// A socket that accepts and says nothing, like a hung plugin.
	mute, err := net.Listen("unix", filepath.Join(dir, "mute.sock"))
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	conns.Go(func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	})
	defer conns.Wait()
	defer mute.Close()

	self := os.Getpid()
	rc := func(pid int, addr string, version int) plugin.ReattachConfig {
		return plugin.ReattachConfig{PID: pid, Network: "unix", Address: addr, ProtocolVersion: version}
	}
	nowhere := filepath.Join(dir, "nobody.sock")
	tests := []struct {
		name string
		rc   plugin.ReattachConfig
		want string
	}{
		{"process gone", rc(gone.Process.Pid, nowhere, runtime.ProtocolVersion), "the process is gone"},
		{"nobody at the address", rc(self, nowhere, runtime.ProtocolVersion), "does not answer"},
		{"a mute socket", rc(self, mute.Addr().String(), runtime.ProtocolVersion), "does not answer"},
		{"another protocol version", rc(self, nowhere, runtime.ProtocolVersion+1), "protocol version"},
		{"no record", plugin.ReattachConfig{}, "no pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := plugin.Reattach(context.Background(), tt.rc, hclog.NewNullLogger(), plugin.WithStartTimeout(time.Second))
			if err == nil {
				c.Detach()
				t.Fatal("Reattach succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(tt.rc.PID)) {
				t.Errorf("error %q; want one naming the pid and saying %q", err, tt.want)
			}
		})
	}
}
