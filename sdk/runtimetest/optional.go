package runtimetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

func (s *suite) testResize(t *testing.T) {
	e := s.setup(t)
	r, isResizer := e.rt.(runtime.Resizer)
	if !e.info.Capabilities.Resize {
		if !isResizer {
			t.Skip("the runtime has no Resize capability")
		}
		spec := e.spec("exec sleep 300")
		e.mustStart(spec)
		ctx, cancel := e.ctx()
		defer cancel()
		err := r.Resize(ctx, spec.ID, runtime.Size{Cols: 120, Rows: 40})
		expectErr(t, "Resize without the Resize capability", err, runtime.ErrUnsupported)
		return
	}
	if s.opts.noTTY {
		t.Skip("the runtime under test has no TTY")
	}

	spec := e.spec(`while IFS= read -r l; do echo "size-$l:$(stty size):end"; done`)
	spec.Size = runtime.Size{Cols: 100, Rows: 30}
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	// stty prints rows, then columns.
	expect := func(how, want string) {
		t.Helper()
		tag := nonce()
		if err := tm.send(tag + "\n"); err != nil {
			t.Fatal(err)
		}
		if err := tm.waitFor("size-" + tag + ":" + want + ":end"); err != nil {
			t.Fatalf("%s: %v", how, err)
		}
	}
	expect("size from Spec.Size 100x30", "30 100")

	ctx, cancel := e.ctx()
	defer cancel()
	if err := r.Resize(ctx, spec.ID, runtime.Size{Cols: 120, Rows: 40}); err != nil {
		t.Fatalf("Resize to 120x40: %v", err)
	}
	expect("after Resizer.Resize to 120x40", "40 120")

	if cr, ok := tm.conn.(connResizer); ok {
		if err := cr.Resize(runtime.Size{Cols: 132, Rows: 50}); err != nil {
			t.Fatalf("Resize of the attach conn to 132x50: %v", err)
		}
		expect("after resizing the attach conn to 132x50", "50 132")
	}
}

func (s *suite) testStats(t *testing.T) {
	e := s.setup(t)
	sr, isReporter := e.rt.(runtime.StatsReporter)
	if !e.info.Capabilities.Stats {
		if !isReporter {
			t.Skip("the runtime has no Stats capability")
		}
		spec := e.spec("exec sleep 300")
		e.mustStart(spec)
		ctx, cancel := e.ctx()
		defer cancel()
		_, err := sr.Stats(ctx, spec.ID)
		expectErr(t, "Stats without the Stats capability", err, runtime.ErrUnsupported)
		return
	}

	spec := e.spec("while :; do :; done")
	e.mustStart(spec)
	if s.opts.StatsUnavailable {
		ctx, cancel := e.ctx()
		defer cancel()
		_, err := sr.Stats(ctx, spec.ID)
		expectErr(t, "Stats where the runtime has no source of stats", err, runtime.ErrUnsupported)
		return
	}
	// CPU is measured between samples, so the first ones may well be zero.
	e.eventually("Stats of a busy agent report CPU, memory and uptime", func() (bool, string) {
		ctx, cancel := e.ctx()
		defer cancel()
		st, err := sr.Stats(ctx, spec.ID)
		if err != nil {
			return false, "Stats: " + err.Error()
		}
		return st.CPUPercent > 0 && st.MemoryBytes > 0 && st.Uptime > 0, fmt.Sprintf("%+v", st)
	})
}

func (s *suite) testTimeout(t *testing.T) {
	e := s.setup(t)
	if !e.info.Capabilities.Timeout {
		t.Skip("the runtime has no Timeout capability")
	}
	spec := e.spec("exec sleep 300")
	spec.Resources.Timeout = time.Second
	e.mustStart(spec)
	if st := e.wait(spec.ID); st.Reason != "timeout" {
		t.Errorf("Wait: %+v, want Reason \"timeout\"", st)
	}
}
