package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// term is an attached terminal whose output is read all the time, so an
// agent never blocks on a full stream while the test is busy elsewhere.
type term struct {
	id      string
	conn    io.ReadWriteCloser
	timeout time.Duration

	mu      sync.Mutex
	out     strings.Builder
	err     error         // why reading stopped; io.EOF at a clean end
	changed chan struct{} // closed and replaced whenever out or err change
}

// attach attaches to id and reads until the test ends. It is safe to call
// from any goroutine.
func (e *env) attach(id string) (*term, error) {
	// The stream lives as long as the test, so don't bound it with ctx().
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := e.rt.Attach(ctx, id)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("Attach %s: %w", id, err)
	}
	tm := &term{id: id, conn: conn, timeout: e.opts.Timeout, changed: make(chan struct{})}
	e.t.Cleanup(func() {
		conn.Close()
		cancel()
	})
	go tm.read()
	return tm, nil
}

func (e *env) mustAttach(id string) *term {
	e.t.Helper()
	tm, err := e.attach(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tm
}

func (tm *term) read() {
	buf := make([]byte, 4096)
	for {
		n, err := tm.conn.Read(buf)
		tm.mu.Lock()
		tm.out.Write(buf[:n])
		if err != nil {
			tm.err = err
		}
		close(tm.changed)
		tm.changed = make(chan struct{})
		tm.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// output returns everything read so far.
func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// until waits for cond over the output and the read error.
func (tm *term) until(what string, cond func(out string, err error) bool) error {
	deadline := time.NewTimer(tm.timeout)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		out, err, changed := tm.out.String(), tm.err, tm.changed
		tm.mu.Unlock()
		if cond(out, err) {
			return nil
		}
		if err != nil {
			// Nothing more will come.
			return fmt.Errorf("agent %s: %s: not seen before the stream ended with %v; output:\n%q",
				tm.id, what, err, out)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("agent %s: %s: not seen within %v; output so far:\n%q",
				tm.id, what, tm.timeout, out)
		}
	}
}

// waitFor waits until s appears in the output.
func (tm *term) waitFor(s string) error {
	return tm.until(fmt.Sprintf("%q in output", s), func(out string, _ error) bool {
		return strings.Contains(out, s)
	})
}

// waitEOF waits for the stream to end with io.EOF.
func (tm *term) waitEOF() error {
	var got error
	err := tm.until("io.EOF", func(_ string, err error) bool {
		got = err
		return err != nil
	})
	if err != nil {
		return err
	}
	if !errors.Is(got, io.EOF) {
		return fmt.Errorf("agent %s: stream ended with %v, want io.EOF; output:\n%q", tm.id, got, tm.output())
	}
	return nil
}

// send writes s, bounded so a stuck runtime fails the test instead of
// hanging it.
func (tm *term) send(s string) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.WriteString(tm.conn, s)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("agent %s: write %q: %w", tm.id, s, err)
		}
		return nil
	case <-time.After(tm.timeout):
		return fmt.Errorf("agent %s: write %q did not return within %v", tm.id, s, tm.timeout)
	}
}

// connResizer is what an attach conn may implement to resize the terminal
// it is attached to.
type connResizer interface {
	Resize(runtime.Size) error
}
