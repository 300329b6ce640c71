package runtimetest

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

const concurrentAgents = 20

func (s *suite) testConcurrent(t *testing.T) {
	e := s.setup(t)
	ids := make([]string, concurrentAgents)
	var wg sync.WaitGroup
	for n := range concurrentAgents {
		spec := e.spec(fmt.Sprintf(`IFS= read -r l; echo "id-%d:$l:end"; exit %d`, n, n%5))
		ids[n] = spec.ID
		wg.Go(func() {
			if err := e.runOne(spec, n); err != nil {
				t.Errorf("agent %d: %v", n, err)
			}
		})
	}
	wg.Wait()

	for _, id := range ids {
		e.stop(id, runtime.StopOptions{})
	}
	ctx, cancel := e.ctx()
	defer cancel()
	list, err := e.rt.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, a := range list {
		for _, id := range ids {
			if a.ID == id && a.State == runtime.StateRunning {
				t.Errorf("List after stopping all agents still shows %s running", id)
			}
		}
	}
}

var inputTag = regexp.MustCompile(`<for-\d+>`)

// runOne drives agent n of testConcurrent; it runs on its own goroutine, so
// it returns errors instead of failing the test.
func (e *env) runOne(spec runtime.Spec, n int) error {
	if _, err := e.start(spec); err != nil {
		return err
	}
	done := e.waitAsync(spec.ID)
	tm, err := e.attach(spec.ID)
	if err != nil {
		return err
	}
	in := fmt.Sprintf("<for-%d>", n)
	if err := tm.send(in + "\n"); err != nil {
		return err
	}
	if err := tm.waitFor(fmt.Sprintf("id-%d:%s:end", n, in)); err != nil {
		return err
	}
	if err := tm.waitEOF(); err != nil {
		return err
	}
	out := tm.output()
	for _, tag := range inputTag.FindAllString(out, -1) {
		if tag != in {
			return fmt.Errorf("output carries another agent's input %s; output:\n%q", tag, out)
		}
	}
	select {
	case r := <-done:
		if r.err != nil {
			return fmt.Errorf("Wait: %w", r.err)
		}
		if r.status.Code != n%5 {
			return fmt.Errorf("Wait: %+v, want Code %d", r.status, n%5)
		}
	case <-time.After(e.opts.Timeout):
		return fmt.Errorf("Wait: agent did not exit within %v", e.opts.Timeout)
	}
	return nil
}
