// Package runtimetest is the conformance suite every parallax runtime runs
// against itself, ours and third parties' alike. It checks a runtime as the
// host sees it, so run it through the wire: wrap the runtime with
// ServeInProcess, or start a built plugin with LaunchPlugin.
//
//	func TestConformance(t *testing.T) {
//		runtimetest.Run(t, runtimetest.Options{
//			New: func(t *testing.T) runtime.Runtime {
//				return runtimetest.ServeInProcess(t, myruntime.New(), nil)
//			},
//		})
//	}
//
// The suite never asserts how long something took; it waits for conditions
// with generous deadlines, so a slow runtime fails only when it is broken.
package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// Options configure Run.
type Options struct {
	// New returns a fresh runtime, already configured, as the host sees it:
	// a client over gRPC. It is called once per subtest.
	New func(t *testing.T) runtime.Runtime
	// Shell is the argv prefix that runs a shell script. The default is
	// /bin/sh -c.
	Shell []string
	// Image is the image hint put in every Spec, for runtimes that run
	// images.
	Image string
	// LocalWorkdir says the runtime runs processes on this machine's
	// filesystem, so a t.TempDir() works as Spec.Workdir.
	LocalWorkdir bool
	// StatsUnavailable says the runtime's source of stats is missing where
	// the suite runs, such as a cluster without metrics-server: Stats must
	// then fail with runtime.ErrUnsupported, which the host shows as no
	// figures rather than zeros.
	StatsUnavailable bool
	// Timeout bounds every wait for a condition: an agent starting, output
	// appearing, an agent exiting. The default is 20s; raise it for runtimes
	// that pull images or schedule pods.
	Timeout time.Duration

	// noTTY lets the suite's own pipe-based fake skip what needs a TTY.
	noTTY bool
}

// Run runs the conformance suite against the runtimes opts.New returns.
func Run(t *testing.T, opts Options) {
	t.Helper()
	if opts.New == nil {
		t.Fatal("runtimetest: Options.New is nil")
	}
	if len(opts.Shell) == 0 {
		opts.Shell = []string{"/bin/sh", "-c"}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	s := &suite{opts: opts}

	t.Run("Describe", s.testDescribe)
	t.Run("Health", s.testHealth)
	t.Run("Start", func(t *testing.T) {
		t.Run("HasTTY", s.testHasTTY)
		t.Run("InputReachesProcess", s.testInputReachesProcess)
		t.Run("OutputBeforeAttachIsReplayed", s.testOutputBeforeAttachIsReplayed)
		t.Run("EnvIsPassed", s.testEnvIsPassed)
		t.Run("HomeIsProvided", s.testHomeIsProvided)
		t.Run("WorkdirIsUsed", s.testWorkdirIsUsed)
		t.Run("InspectDescribesRunningAgent", s.testInspectRunning)
		t.Run("UnenforcedLimitsWarn", s.testUnenforcedLimitsWarn)
		t.Run("DuplicateIDIsRejected", s.testDuplicateID)
		t.Run("InvalidSpecIsRejected", s.testInvalidSpec)
	})
	t.Run("Resize", s.testResize)
	t.Run("Exit", func(t *testing.T) {
		t.Run("CodeIsReported", s.testExitCode)
		t.Run("SignalIsReported", s.testExitSignal)
		t.Run("WaitAfterExitReturnsAtOnce", s.testWaitAfterExit)
		t.Run("InspectShowsExitUntilStop", s.testInspectExited)
		t.Run("AttachedStreamEndsWithEOF", s.testAttachedEOF)
		t.Run("AttachAfterExitReplaysThenEOF", s.testAttachAfterExit)
	})
	t.Run("Stop", func(t *testing.T) {
		t.Run("GracefulSendsSIGTERM", s.testStopGraceful)
		t.Run("EscalatesToSIGKILL", s.testStopEscalates)
		t.Run("ForceKills", s.testStopForce)
		t.Run("ExitedAgentIsReleased", s.testStopExited)
		t.Run("UnknownIDIsNotFound", s.testStopUnknown)
	})
	t.Run("UnknownID", s.testUnknownID)
	t.Run("List", s.testList)
	t.Run("Stats", s.testStats)
	t.Run("Timeout", s.testTimeout)
	t.Run("Recover", s.testRecover)
	t.Run("ConcurrentAgents", s.testConcurrent)
}

type suite struct {
	opts Options
}

// env is one subtest's runtime and what it knows about it.
type env struct {
	t    *testing.T
	rt   runtime.Runtime
	info runtime.Info
	opts Options
}

func (s *suite) setup(t *testing.T) *env {
	t.Helper()
	rt := s.opts.New(t)
	if rt == nil {
		t.Fatal("Options.New returned nil")
	}
	e := &env{t: t, rt: rt, opts: s.opts}
	ctx, cancel := e.ctx()
	defer cancel()
	info, err := rt.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	e.info = info
	return e
}

// ctx bounds one call. Calls that block until a condition, like Wait, get
// the same deadline as any other wait.
func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.opts.Timeout)
}

// id returns an agent id unique to this run that is also a valid DNS label,
// since runtimes may name containers or pods after it.
func (e *env) id() string {
	name := e.t.Name()
	if i := strings.Index(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	dash := true
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[len(base)-40:], "-")
		base = strings.TrimLeft(base, "-")
	}
	return fmt.Sprintf("rt-%s-%s", base, nonce())
}

// nonce makes markers that can't appear in output by accident.
func nonce() string {
	return fmt.Sprintf("%08x", rand.Uint32())
}

// spec returns a Spec that runs script in the shell.
func (e *env) spec(script string) runtime.Spec {
	argv := append(append([]string(nil), e.opts.Shell...), script)
	return runtime.Spec{
		ID:     e.id(),
		Argv:   argv,
		Image:  e.opts.Image,
		Size:   runtime.Size{Cols: 80, Rows: 24},
		Labels: map[string]string{"parallax.test": "conformance"},
	}
}

// start starts spec and force-stops it when the test ends. It is safe to
// call from any goroutine.
func (e *env) start(spec runtime.Spec) (runtime.AgentInfo, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	e.t.Cleanup(func() { e.forceStop(spec.ID) })
	info, err := e.rt.Start(ctx, spec)
	if err != nil {
		return info, fmt.Errorf("Start %s %q: %w", spec.ID, spec.Argv, err)
	}
	return info, nil
}

func (e *env) mustStart(spec runtime.Spec) runtime.AgentInfo {
	e.t.Helper()
	info, err := e.start(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

func (e *env) forceStop(id string) {
	ctx, cancel := e.ctx()
	defer cancel()
	err := e.rt.Stop(ctx, id, runtime.StopOptions{Force: true})
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		e.t.Errorf("cleanup: Stop(Force) %s: %v", id, err)
	}
}

func (e *env) stop(id string, opts runtime.StopOptions) {
	e.t.Helper()
	ctx, cancel := e.ctx()
	defer cancel()
	if err := e.rt.Stop(ctx, id, opts); err != nil {
		e.t.Fatalf("Stop %s %+v: %v", id, opts, err)
	}
}

func (e *env) wait(id string) runtime.ExitStatus {
	e.t.Helper()
	ctx, cancel := e.ctx()
	defer cancel()
	st, err := e.rt.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("Wait %s: %v", id, err)
	}
	return st
}

type waitResult struct {
	status runtime.ExitStatus
	err    error
}

// waitAsync waits the way the host does: from the moment an agent starts,
// so the status is caught even when Stop lets the runtime forget the agent.
func (e *env) waitAsync(id string) <-chan waitResult {
	ch := make(chan waitResult, 1)
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	go func() {
		st, err := e.rt.Wait(ctx, id)
		ch <- waitResult{st, err}
	}()
	return ch
}

// exitOf takes the result of waitAsync, allowing the agent time to exit.
func (e *env) exitOf(id string, ch <-chan waitResult) runtime.ExitStatus {
	e.t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			e.t.Fatalf("Wait %s: %v", id, r.err)
		}
		return r.status
	case <-time.After(e.opts.Timeout):
		e.t.Fatalf("Wait %s: agent did not exit within %v", id, e.opts.Timeout)
		return runtime.ExitStatus{}
	}
}

// eventually waits, within the suite's Timeout, for cond, which also
// describes what it saw, for the failure message.
func (e *env) eventually(what string, cond func() (bool, string)) {
	e.t.Helper()
	var last string
	Eventually(e.t, e.opts.Timeout, what, func() bool {
		ok, seen := cond()
		last = seen
		return ok
	}, func() string { return last })
}

// waitRunning waits until Inspect reports the agent running. Start returns
// once the agent runs, but a runtime may report Start before the state
// settles, and the suite only asserts what the contract guarantees.
func (e *env) waitRunning(id string) {
	e.t.Helper()
	e.eventually("Inspect "+id+" reports running", func() (bool, string) {
		ctx, cancel := e.ctx()
		defer cancel()
		info, err := e.rt.Inspect(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return info.State == runtime.StateRunning, fmt.Sprintf("%+v", info)
	})
}

// assertReleased checks what may remain of a stopped agent: nothing, or an
// exited record.
func (e *env) assertReleased(id string) {
	e.t.Helper()
	ctx, cancel := e.ctx()
	defer cancel()
	info, err := e.rt.Inspect(ctx, id)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
	case err != nil:
		e.t.Errorf("Inspect %s after Stop: %v, want ErrNotFound or an exited agent", id, err)
	case info.State != runtime.StateExited:
		e.t.Errorf("Inspect %s after Stop: state %q, want ErrNotFound or %q", id, info.State, runtime.StateExited)
	}
	list, err := e.rt.List(ctx)
	if err != nil {
		e.t.Fatalf("List: %v", err)
	}
	for _, a := range list {
		if a.ID == id && a.State == runtime.StateRunning {
			e.t.Errorf("List after Stop still shows %s running: %+v", id, a)
		}
	}
}

func expectErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want one wrapping %q", what, err, want)
	}
}
