package testkubelet

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// drainTimeout bounds how long an exited container waits for the rest of
// its terminal output. Output only keeps coming if a process outside the
// container's process group still holds the terminal.
const drainTimeout = 2 * time.Second

// container is the local process that stands for a pod's first container.
type container struct {
	namespace, pod, name string
	uid                  types.UID

	out *output
	// exited is closed once the process has exited and out is closed.
	exited chan struct{}

	// Set by start, before the container is shared.
	cmd     *exec.Cmd
	pty     *os.File
	started time.Time
	drained chan struct{} // closed when the terminal has no more output

	terminateOnce sync.Once

	// ptyMu keeps a late resize off a terminal being closed.
	ptyMu     sync.Mutex
	ptyClosed bool
}

// setSize resizes the terminal unless it is closed.
func (c *container) setSize(rows, cols uint16) {
	c.ptyMu.Lock()
	defer c.ptyMu.Unlock()
	if c.pty != nil && !c.ptyClosed {
		_ = pty.Setsize(c.pty, &pty.Winsize{Rows: rows, Cols: cols})
	}
}

// closePTY closes the terminal, once.
func (c *container) closePTY() {
	c.ptyMu.Lock()
	defer c.ptyMu.Unlock()
	if c.pty != nil && !c.ptyClosed {
		c.ptyClosed = true
		c.pty.Close()
	}
}

func newContainer(pod *corev1.Pod, outputLimit int) *container {
	return &container{
		namespace: pod.Namespace,
		pod:       pod.Name,
		name:      pod.Spec.Containers[0].Name,
		uid:       pod.UID,
		out:       newOutput(outputLimit),
		exited:    make(chan struct{}),
		drained:   make(chan struct{}),
	}
}

// start runs argv on a new terminal, in a session and process group of its
// own (so the container can be signalled as a whole) with the terminal as
// its controlling terminal, as a runtime does for a tty container.
func (c *container) start(argv, env []string, dir string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return err
	}
	c.cmd, c.pty, c.started = cmd, ptmx, time.Now()
	go func() {
		defer close(c.drained)
		// Reading ends with EIO once no process has the terminal open.
		_, _ = io.Copy(c.out, ptmx)
	}()
	return nil
}

// failed marks a container that could not start as exited.
func (c *container) failed() {
	c.out.close()
	close(c.exited)
}

// wait waits for the process to exit and ends the container the way a
// runtime does: what is left of its process group is killed and its output
// is drained and closed. It returns the state to report in the pod status.
func (c *container) wait() corev1.ContainerStateTerminated {
	_ = c.cmd.Wait() // the exit status is in ProcessState
	c.signal(syscall.SIGKILL)
	select {
	case <-c.drained:
	case <-time.After(drainTimeout):
	}
	c.out.close()
	close(c.exited)
	return terminatedState(c.cmd.ProcessState, c.started)
}

// terminatedState turns a wait status into what a kubelet reports: a
// process killed by a signal exits with 128+signal, as with a runtime.
func terminatedState(ps *os.ProcessState, started time.Time) corev1.ContainerStateTerminated {
	status := ps.Sys().(syscall.WaitStatus)
	term := corev1.ContainerStateTerminated{
		ExitCode:   int32(status.ExitStatus()),
		Reason:     "Completed",
		StartedAt:  metav1.NewTime(started),
		FinishedAt: metav1.Now(),
	}
	if status.Signaled() {
		term.Signal = int32(status.Signal())
		term.ExitCode = 128 + term.Signal
	}
	if term.ExitCode != 0 {
		term.Reason = "Error"
	}
	return term
}

// terminate stops the container the way a kubelet does when its pod is
// deleted: SIGTERM to the process group, then SIGKILL once grace is over.
func (c *container) terminate(grace time.Duration) {
	c.terminateOnce.Do(func() {
		c.signal(syscall.SIGTERM)
		go func() {
			select {
			case <-c.exited:
			case <-time.After(grace):
				c.signal(syscall.SIGKILL)
			}
		}()
	})
}

// signal sends sig to the container's process group, if it ever started.
func (c *container) signal(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// isRunning reports whether the process is still running.
func (c *container) isRunning() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// AttachContainer implements remotecommand.Attacher for this one container
// (the names it is given are the ones it was looked up by). Like a runtime,
// it copies stdin to the terminal and the terminal's output from now on to
// stdout, and returns when the client's stdin ends, when writing to the
// client fails or when the container exits.
func (c *container) AttachContainer(_ context.Context, _, _, _ string, stdin io.Reader, stdout, _ io.WriteCloser, _ bool, resize <-chan remotecommand.TerminalSize) error {
	if resize != nil {
		// Drained until the client's resize stream ends, whatever happens
		// here, so that the stream's reader is never stuck.
		go func() {
			for size := range resize {
				c.setSize(size.Height, size.Width)
			}
		}()
	}
	if !c.isRunning() {
		return fmt.Errorf("container %q is not running", c.name)
	}
	_, f := c.out.follow()
	defer c.out.unfollow(f)

	if stdin != nil {
		go func() {
			_, _ = io.Copy(c.pty, stdin)
			c.out.unfollow(f)
		}()
	}
	var w io.Writer = io.Discard
	if stdout != nil {
		w = stdout
	}
	for {
		chunk, ok := f.next()
		if !ok {
			return nil
		}
		if _, err := w.Write(chunk); err != nil {
			return nil // the client went away; nothing left to tell it
		}
	}
}
