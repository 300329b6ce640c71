package runtimetest

import (
	"fmt"
	"testing"

	"github.com/parallax/parallax/sdk/runtime"
)

// A host that reattaches to a running plugin calls Recover on it, and
// needs every agent the plugin holds back: the ones this very plugin
// process started too, with their Env, to mask their keys, and the ones
// that exited but were not released, to show their exit. It may call
// Recover more than once.
func (s *suite) testRecover(t *testing.T) {
	e := s.setup(t)
	a, ok := e.rt.(runtime.Adopter)
	if !e.info.Capabilities.Adopt || !ok {
		t.Skip("the runtime has no Adopt capability")
	}
	spec := e.spec(`IFS= read -r l; echo "got:$l:end"; exit 7`)
	spec.Env = map[string]string{"PARALLAX_TEST_KEY": "key-" + nonce()}
	recovered := func(what string) runtime.AgentInfo {
		t.Helper()
		ctx, cancel := e.ctx()
		defer cancel()
		infos, err := a.Recover(ctx)
		if err != nil {
			t.Fatalf("Recover %s: %v", what, err)
		}
		var found []runtime.AgentInfo
		for _, info := range infos {
			if info.ID == spec.ID {
				found = append(found, info)
			}
		}
		if len(found) != 1 {
			t.Fatalf("Recover %s listed %s %d times, want once: %+v", what, spec.ID, len(found), infos)
		}
		got := found[0]
		for k, v := range spec.Env {
			if got.Env[k] != v {
				t.Errorf("Recover %s: Env[%s] = %q, want %q, as started", what, k, got.Env[k], v)
			}
		}
		return got
	}

	e.mustStart(spec)
	e.waitRunning(spec.ID)
	for _, what := range []string{"of a running agent", "again"} {
		if got := recovered(what); got.State != runtime.StateRunning || got.Exit != nil {
			t.Errorf("Recover %s: %+v, want it running", what, got)
		}
	}

	// Still the one agent, with its terminal, after two Recovers.
	done := e.waitAsync(spec.ID)
	tm := e.mustAttach(spec.ID)
	if err := tm.send("hello\n"); err != nil {
		t.Fatal(err)
	}
	if err := tm.waitFor("got:hello:end"); err != nil {
		t.Fatal(err)
	}
	e.exitOf(spec.ID, done)

	got := recovered("of an exited agent, before Stop")
	if got.State != runtime.StateExited || got.Exit == nil || got.Exit.Code != 7 {
		t.Errorf("Recover of an exited agent: %+v (Exit %s), want it exited with code 7", got, exitString(got.Exit))
	}
}

func exitString(st *runtime.ExitStatus) string {
	if st == nil {
		return "nil"
	}
	return fmt.Sprintf("%+v", *st)
}
