package runtimetest

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

func (s *suite) testDescribe(t *testing.T) {
	e := s.setup(t)
	info := e.info
	if info.Name == "" {
		t.Error("Info.Name is empty")
	}
	if info.ProtocolVersion != runtime.ProtocolVersion {
		t.Errorf("Info.ProtocolVersion = %d, want %d", info.ProtocolVersion, runtime.ProtocolVersion)
	}
	if info.DefaultPriority < 0 {
		t.Errorf("Info.DefaultPriority = %d, want >= 0", info.DefaultPriority)
	}
	seen := map[string]bool{}
	for _, a := range info.ConfigSchema {
		if a.Name == "" || a.Type == "" {
			t.Errorf("ConfigSchema attribute without a name or type: %+v", a)
		}
		if seen[a.Name] {
			t.Errorf("ConfigSchema declares %q twice", a.Name)
		}
		seen[a.Name] = true
	}
	// The host calls the optional interfaces on what Capabilities announce.
	if _, ok := e.rt.(runtime.Resizer); info.Capabilities.Resize && !ok {
		t.Error("Capabilities.Resize is set but the runtime is no runtime.Resizer")
	}
	if _, ok := e.rt.(runtime.StatsReporter); info.Capabilities.Stats && !ok {
		t.Error("Capabilities.Stats is set but the runtime is no runtime.StatsReporter")
	}
	if _, ok := e.rt.(runtime.Adopter); info.Capabilities.Adopt && !ok {
		t.Error("Capabilities.Adopt is set but the runtime is no runtime.Adopter")
	}
}

func (s *suite) testHealth(t *testing.T) {
	e := s.setup(t)
	health := func() runtime.Health {
		t.Helper()
		ctx, cancel := e.ctx()
		defer cancel()
		h, err := e.rt.Health(ctx)
		if err != nil {
			t.Fatalf("Health: %v", err)
		}
		return h
	}
	before := health()
	if !before.Healthy {
		t.Fatalf("Health: not healthy: %+v", before)
	}
	spec := e.spec("exec sleep 300")
	e.mustStart(spec)
	e.eventually("Health.ActiveAgents counts the started agent", func() (bool, string) {
		h := health()
		return h.ActiveAgents >= before.ActiveAgents+1, fmt.Sprintf("%+v, %d before the start", h, before.ActiveAgents)
	})
	e.stop(spec.ID, runtime.StopOptions{Force: true})
	e.eventually("Health.ActiveAgents no longer counts the stopped agent", func() (bool, string) {
		h := health()
		return h.ActiveAgents <= before.ActiveAgents, fmt.Sprintf("%+v, %d before the start", h, before.ActiveAgents)
	})
}

func (s *suite) testHasTTY(t *testing.T) {
	if s.opts.noTTY {
		t.Skip("the runtime under test has no TTY")
	}
	e := s.setup(t)
	n := nonce()
	spec := e.spec(fmt.Sprintf(
		`if test -t 0 && test -t 1 && test -t 2; then echo "tty-ok-%[1]s"; else echo "tty-missing-%[1]s"; fi; exec sleep 300`, n))
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	err := tm.until("a tty check result", func(out string, _ error) bool {
		return strings.Contains(out, "tty-ok-"+n) || strings.Contains(out, "tty-missing-"+n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tm.output(), "tty-missing-"+n) {
		t.Fatalf("stdin, stdout and stderr are not all a TTY; output:\n%q", tm.output())
	}
}

func (s *suite) testInputReachesProcess(t *testing.T) {
	e := s.setup(t)
	// A TTY echoes input by itself, so only the process's reply proves the
	// bytes reached it.
	spec := e.spec(`while IFS= read -r l; do echo "got:$l:end"; done`)
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	for range 2 {
		msg := "hello-" + nonce()
		if err := tm.send(msg + "\n"); err != nil {
			t.Fatal(err)
		}
		if err := tm.waitFor("got:" + msg + ":end"); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *suite) testOutputBeforeAttachIsReplayed(t *testing.T) {
	e := s.setup(t)
	marker := "early-" + nonce()
	spec := e.spec(fmt.Sprintf("echo %s; exec sleep 300", marker))
	e.mustStart(spec)
	e.waitRunning(spec.ID)
	// Give the agent time to print before anyone attaches; nothing depends
	// on how long it actually took.
	time.Sleep(time.Second)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor(marker); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testEnvIsPassed(t *testing.T) {
	e := s.setup(t)
	val := "bar-" + nonce()
	spec := e.spec(`echo "env:$PARALLAX_TEST_FOO:end"; exec sleep 300`)
	spec.Env = map[string]string{"PARALLAX_TEST_FOO": val}
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor("env:" + val + ":end"); err != nil {
		t.Fatal(err)
	}
}

// The agent finds Spec.Home's files in its HOME, which the host sets to
// Info.AgentPaths.Home where the runtime has one, else to Spec.Home.
func (s *suite) testHomeIsProvided(t *testing.T) {
	e := s.setup(t)
	dir := t.TempDir()
	val := "seeded-" + nonce()
	if err := os.WriteFile(filepath.Join(dir, ".seed"), []byte(val), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := e.spec(`echo "home:$(cat "$HOME/.seed"):end"; exec sleep 300`)
	spec.Home = dir
	spec.Env = map[string]string{"HOME": cmp.Or(e.info.AgentPaths.Home, dir)}
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor("home:" + val + ":end"); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testWorkdirIsUsed(t *testing.T) {
	if !s.opts.LocalWorkdir {
		t.Skip("Options.LocalWorkdir is not set")
	}
	e := s.setup(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := e.spec(`echo "cwd:$(pwd -P):end"; exec sleep 300`)
	spec.Workdir = dir
	e.mustStart(spec)
	tm := e.mustAttach(spec.ID)
	if err := tm.waitFor("cwd:" + dir + ":end"); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testInspectRunning(t *testing.T) {
	e := s.setup(t)
	spec := e.spec("exec sleep 300")
	spec.Labels = map[string]string{"parallax.test": "conformance", "parallax.test/run": nonce()}
	started := e.mustStart(spec)
	if started.ID != spec.ID {
		t.Errorf("Start returned ID %q, want %q", started.ID, spec.ID)
	}
	e.waitRunning(spec.ID)
	ctx, cancel := e.ctx()
	defer cancel()
	info, err := e.rt.Inspect(ctx, spec.ID)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if info.ID != spec.ID {
		t.Errorf("Inspect: ID %q, want %q", info.ID, spec.ID)
	}
	if info.StartedAt.IsZero() {
		t.Error("Inspect: StartedAt is zero")
	}
	if info.Exit != nil {
		t.Errorf("Inspect: Exit is set on a running agent: %+v", *info.Exit)
	}
	// A runtime may add labels of its own, but must keep the host's.
	for k, v := range spec.Labels {
		if got, ok := info.Labels[k]; !ok || got != v {
			t.Errorf("Inspect: Labels %v, want them to include %v", info.Labels, spec.Labels)
			break
		}
	}
}

func (s *suite) testUnenforcedLimitsWarn(t *testing.T) {
	e := s.setup(t)
	caps := e.info.Capabilities
	spec := e.spec("exec sleep 300")
	spec.Resources.CPU = "500m"
	spec.Resources.Memory = "256Mi"
	started := e.mustStart(spec)
	if caps.CPULimit && caps.MemoryLimit {
		return
	}
	warnings := started.Warnings
	if len(warnings) == 0 {
		ctx, cancel := e.ctx()
		defer cancel()
		info, err := e.rt.Inspect(ctx, spec.ID)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		warnings = info.Warnings
	}
	if len(warnings) == 0 {
		t.Errorf("started with limits it can't enforce (CPULimit %v, MemoryLimit %v) but gave no warning",
			caps.CPULimit, caps.MemoryLimit)
	}
}

func (s *suite) testDuplicateID(t *testing.T) {
	e := s.setup(t)
	running := e.spec("exec sleep 300")
	e.mustStart(running)
	_, err := e.start(running)
	expectErr(t, "Start with the id of a running agent", err, runtime.ErrAlreadyExists)

	// An exited agent is held until Stop releases it, id included.
	exited := e.spec("exit 0")
	e.mustStart(exited)
	e.wait(exited.ID)
	_, err = e.start(exited)
	expectErr(t, "Start with the id of an exited agent not yet stopped", err, runtime.ErrAlreadyExists)
}

func (s *suite) testInvalidSpec(t *testing.T) {
	e := s.setup(t)
	noArgv := e.spec("")
	noArgv.Argv = nil
	_, err := e.start(noArgv)
	expectErr(t, "Start with no Argv", err, runtime.ErrInvalidSpec)

	noID := e.spec("exec sleep 300")
	noID.ID = ""
	_, err = e.start(noID)
	expectErr(t, "Start with no ID", err, runtime.ErrInvalidSpec)
}

func (s *suite) testList(t *testing.T) {
	e := s.setup(t)
	a, b := e.spec("exec sleep 300"), e.spec("exec sleep 300")
	e.mustStart(a)
	e.mustStart(b)
	e.eventually("List shows both agents running", func() (bool, string) {
		ctx, cancel := e.ctx()
		defer cancel()
		list, err := e.rt.List(ctx)
		if err != nil {
			return false, "List: " + err.Error()
		}
		running := map[string]bool{}
		for _, info := range list {
			running[info.ID] = info.State == runtime.StateRunning
		}
		return running[a.ID] && running[b.ID], fmt.Sprintf("%+v", list)
	})
}
