package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parallax/parallax/sdk/runtime"
)

func (s *suite) testExitCode(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("exit 3")
	e.mustStart(spec)
	st := e.wait(spec.ID)
	if st.Code != 3 || st.Signal != "" || st.Reason != "exited" {
		t.Errorf("Wait: %+v, want Code 3, no Signal, Reason \"exited\"", st)
	}
	if st.ExitedAt.IsZero() {
		t.Error("Wait: ExitedAt is zero")
	}
}

func (s *suite) testExitSignal(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("kill -TERM $$; sleep 300")
	e.mustStart(spec)
	st := e.wait(spec.ID)
	if st.Code != -1 || st.Signal != "SIGTERM" {
		t.Errorf("Wait: %+v, want Code -1, Signal \"SIGTERM\"", st)
	}
}

func (s *suite) testWaitAfterExit(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("exit 4")
	e.mustStart(spec)
	first := e.wait(spec.ID)
	// The deadline is only a guard: a runtime that blocks here never
	// returns, as the agent won't exit a second time.
	second := e.wait(spec.ID)
	if first.Code != 4 || second.Code != first.Code || second.Signal != first.Signal || second.Reason != first.Reason {
		t.Errorf("Wait after exit: first %+v, then %+v; want Code 4 both times", first, second)
	}
}

func (s *suite) testInspectExited(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("exit 5")
	e.mustStart(spec)
	st := e.wait(spec.ID)

	ctx, cancel := e.ctx()
	defer cancel()
	info, err := e.rt.Inspect(ctx, spec.ID)
	if err != nil {
		t.Fatalf("Inspect after exit, before Stop: %v", err)
	}
	if info.State != runtime.StateExited {
		t.Errorf("Inspect after exit: State %q, want %q", info.State, runtime.StateExited)
	}
	if info.Exit == nil {
		t.Errorf("Inspect after exit: Exit is nil, want %+v", st)
	} else if info.Exit.Code != 5 {
		t.Errorf("Inspect after exit: Exit %+v, want Code 5", *info.Exit)
	}
	list, err := e.rt.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	found := false
	for _, a := range list {
		if a.ID == spec.ID {
			found = true
			if a.State != runtime.StateExited {
				t.Errorf("List after exit: %s has State %q, want %q", a.ID, a.State, runtime.StateExited)
			}
		}
	}
	if !found {
		t.Errorf("List after exit, before Stop: %s missing from %+v", spec.ID, list)
	}
}

func (s *suite) testAttachedEOF(t *testing.T) {
	e := s.setup(t)
	spec := e.spec(`IFS= read -r l; echo "got:$l:end"; exit 6`)
	e.mustStart(spec)
	done := e.waitAsync(spec.ID)
	tm := e.mustAttach(spec.ID)
	msg := "bye-" + nonce()
	if err := tm.send(msg + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := tm.waitFor("got:" + msg + ":end"); err != nil {
		t.Fatal(err)
	}
	if err := tm.waitEOF(); err != nil {
		t.Fatal(err)
	}
	if st := e.exitOf(spec.ID, done); st.Code != 6 {
		t.Errorf("Wait: %+v, want Code 6", st)
	}
}

func (s *suite) testAttachAfterExit(t *testing.T) {
	e := s.setup(t)
	marker := "last-words-" + nonce()
	spec := e.spec(fmt.Sprintf("echo %s; exit 0", marker))
	e.mustStart(spec)
	e.wait(spec.ID)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor(marker); err != nil {
		t.Fatal(err)
	}
	if err := tm.waitEOF(); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testUnknownID(t *testing.T) {
	e := s.setup(t)
	caps := e.info.Capabilities
	id := e.id()
	call := func(name string, f func(ctx context.Context) error, unsupported bool) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := e.ctx()
			defer cancel()
			err := f(ctx)
			if unsupported && errors.Is(err, runtime.ErrUnsupported) {
				return
			}
			expectErr(t, name+" of an unknown id", err, runtime.ErrNotFound)
		})
	}
	call("Inspect", func(ctx context.Context) error {
		_, err := e.rt.Inspect(ctx, id)
		return err
	}, false)
	call("Wait", func(ctx context.Context) error {
		_, err := e.rt.Wait(ctx, id)
		return err
	}, false)
	call("Attach", func(ctx context.Context) error {
		conn, err := e.rt.Attach(ctx, id)
		if err == nil {
			// Say what the stream did, as a client may only fail on Read.
			defer conn.Close()
			read := make(chan error, 1)
			go func() {
				_, err := conn.Read(make([]byte, 1))
				read <- err
			}()
			select {
			case rerr := <-read:
				return fmt.Errorf("Attach returned no error (the first Read returned %v)", rerr)
			case <-ctx.Done():
				return fmt.Errorf("Attach returned no error and the stream stayed open")
			}
		}
		return err
	}, false)
	call("Stop", func(ctx context.Context) error {
		return e.rt.Stop(ctx, id, runtime.StopOptions{Force: true})
	}, false)
	if r, ok := e.rt.(runtime.Resizer); ok {
		call("Resize", func(ctx context.Context) error {
			return r.Resize(ctx, id, runtime.Size{Cols: 80, Rows: 24})
		}, !caps.Resize)
	}
	if r, ok := e.rt.(runtime.StatsReporter); ok {
		call("Stats", func(ctx context.Context) error {
			_, err := r.Stats(ctx, id)
			return err
		}, !caps.Stats)
	}
}
