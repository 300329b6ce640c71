package runtimetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// armed starts script, which must echo "armed-<nonce>" once its traps are
// set, and returns the attached terminal and the pending Wait.
func (e *env) armed(script string) (runtime.Spec, *term, <-chan waitResult, string) {
	e.t.Helper()
	n := nonce()
	spec := e.spec(fmt.Sprintf(script, n))
	e.mustStart(spec)
	done := e.waitAsync(spec.ID)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor("armed-" + n); err != nil {
		e.t.Fatal(err)
	}
	// A Wait that reaches the runtime only after Stop released the agent
	// rightly finds nothing; give the one in flight time to arrive.
	time.Sleep(500 * time.Millisecond)
	return spec, tm, done, n
}

func (s *suite) testStopGraceful(t *testing.T) {
	e := s.setup(t)
	spec, tm, done, n := e.armed(`trap 'echo got-term-%[1]s; exit 7' TERM; echo armed-%[1]s; while :; do sleep 0.1; done`)
	e.stop(spec.ID, runtime.StopOptions{Timeout: 10 * time.Second})
	st := e.exitOf(spec.ID, done)
	if st.Code != 7 || st.Signal != "" {
		t.Errorf("Wait: %+v, want Code 7 from the TERM trap", st)
	}
	if err := tm.waitFor("got-term-" + n); err != nil {
		t.Error(err)
	}
	if err := tm.waitEOF(); err != nil {
		t.Error(err)
	}
	e.assertReleased(spec.ID)
}

func (s *suite) testStopEscalates(t *testing.T) {
	e := s.setup(t)
	spec, tm, done, _ := e.armed(`trap '' TERM; echo armed-%[1]s; while :; do sleep 0.1; done`)
	e.stop(spec.ID, runtime.StopOptions{Timeout: 500 * time.Millisecond})
	st := e.exitOf(spec.ID, done)
	if st.Code != -1 || st.Signal != "SIGKILL" {
		t.Errorf("Wait: %+v, want Code -1, Signal \"SIGKILL\" for an agent that ignores SIGTERM", st)
	}
	if err := tm.waitEOF(); err != nil {
		t.Error(err)
	}
	e.assertReleased(spec.ID)
}

func (s *suite) testStopForce(t *testing.T) {
	e := s.setup(t)
	// The shell stays the parent of sleep, so the agent has two processes
	// and the stream ends only once both are gone.
	spec, tm, done, _ := e.armed(`echo armed-%[1]s; sleep 300; echo not-reached`)
	e.stop(spec.ID, runtime.StopOptions{Force: true})
	st := e.exitOf(spec.ID, done)
	if st.Code != -1 || st.Signal != "SIGKILL" {
		t.Errorf("Wait: %+v, want Code -1, Signal \"SIGKILL\"", st)
	}
	if err := tm.waitEOF(); err != nil {
		t.Error(err)
	}
	e.assertReleased(spec.ID)
}

func (s *suite) testStopExited(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("exit 0")
	e.mustStart(spec)
	e.wait(spec.ID)
	e.stop(spec.ID, runtime.StopOptions{})
	e.assertReleased(spec.ID)

	ctx, cancel := e.ctx()
	defer cancel()
	err := e.rt.Stop(ctx, spec.ID, runtime.StopOptions{})
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Stop of a released agent: %v, want nil or ErrNotFound", err)
	}
}

func (s *suite) testStopUnknown(t *testing.T) {
	e := s.setup(t)
	ctx, cancel := e.ctx()
	defer cancel()
	err := e.rt.Stop(ctx, e.id(), runtime.StopOptions{})
	expectErr(t, "Stop of an unknown id", err, runtime.ErrNotFound)
}
