package testcluster

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// process is one binary of the cluster, running until the test's cleanup.
type process struct {
	name string
	log  string
	// exited is closed when the process has ended; err is then its end.
	exited chan struct{}
	err    error
}

// startProcess runs bin with args in a process group of its own, with
// stdout and stderr in <dir>/<name>.log. At the test's cleanup it kills the
// whole group and, if the test failed, logs the tail of that file.
func startProcess(t testing.TB, dir, name, bin string, args []string, env ...string) *process {
	t.Helper()
	p := &process{name: name, log: filepath.Join(dir, name+".log"), exited: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	// Registered before the kill, so it runs after it: the tail then has
	// everything the process wrote.
	showTailOnFailure(t, name, p.log)
	t.Cleanup(func() {
		// The group, not just the process: nothing it started may outlive
		// the test.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	return p
}

// failIfExited fails the test if p has ended, saying how.
func (p *process) failIfExited(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited: %v (its output is at the end of this test's log)", p.name, p.err)
	default:
	}
}

// showTailOnFailure logs the end of the file at path at the test's cleanup
// if the test failed: the reason a component did not come up is there.
func showTailOnFailure(t testing.TB, name, path string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("--- last lines of %s (%s) ---\n%s", name, path, tail(path, 40))
	})
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), n)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process could take it before ours binds it; on a test machine
// that is rare enough to accept for the binaries that cannot listen on port
// 0 and report the port they got.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
