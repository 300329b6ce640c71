package agenttable

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// patience bounds waits for what must happen; it measures no speed.
const patience = 10 * time.Second

// proc is a runtime's agent as a test runs it: a process that exits when
// sent what exitOn names.
type proc struct {
	*Agent
	exitOn string // "term", "kill", or "" to outlive both

	mu    sync.Mutex
	calls []string
}

func newProc(id, exitOn string) *proc {
	p := &proc{Agent: NewAgent(id, nil), exitOn: exitOn}
	p.StartedAt = time.Now()
	return p
}

func (p *proc) signal(sig string) {
	p.mu.Lock()
	p.calls = append(p.calls, sig)
	p.mu.Unlock()
	if sig == p.exitOn && !p.HasExited() {
		go p.Exit(runtime.ExitStatus{Code: -1, Signal: "SIG" + strings.ToUpper(sig), ExitedAt: time.Now()})
	}
}

func (p *proc) terminate(ctx context.Context, graceful bool, grace time.Duration, reason string) error {
	return p.Terminate(ctx, graceful, grace, reason, func() { p.signal("term") }, func(context.Context) error {
		p.signal("kill")
		return nil
	})
}

func (p *proc) signals() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.calls, ",")
}

func opened() *Table[*proc] {
	t := &Table[*proc]{}
	t.Open()
	return t
}

func TestClosedTableIsNotConfigured(t *testing.T) {
	var tab Table[*proc]
	ctx := context.Background()
	calls := map[string]error{
		"Ready": tab.Ready(),
		"Start": func() error {
			_, err := tab.Start("a", func() (*proc, error) { return newProc("a", ""), nil })
			return err
		}(),
		"Get":     func() error { _, err := tab.Get("a"); return err }(),
		"Inspect": func() error { _, err := tab.Inspect("a"); return err }(),
		"Wait":    func() error { _, err := tab.Wait(ctx, "a"); return err }(),
		"List":    func() error { _, err := tab.List(); return err }(),
		"Stop":    tab.Stop("a", func(*proc) error { return nil }),
		"Resize":  tab.Resize("a", runtime.Size{Cols: 80, Rows: 24}, func(*proc) error { return nil }),
	}
	for name, err := range calls {
		if !errors.Is(err, runtime.ErrNotConfigured) {
			t.Errorf("%s before Open: %v; want ErrNotConfigured", name, err)
		}
	}
	if n := tab.Active(); n != 0 {
		t.Errorf("Active before Open = %d", n)
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name    string
		held    []string // ids the table holds before
		id      string
		fail    error // launch's error
		wantErr error
		kept    bool
	}{
		{name: "new id", id: "a", kept: true},
		{name: "held id", held: []string{"a"}, id: "a", wantErr: runtime.ErrAlreadyExists, kept: true},
		{name: "launch fails", id: "a", fail: runtime.ErrInvalidSpec, wantErr: runtime.ErrInvalidSpec},
		{name: "another id", held: []string{"b"}, id: "a", kept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := opened()
			for _, id := range tt.held {
				if err := tab.Add(newProc(id, "")); err != nil {
					t.Fatal(err)
				}
			}
			launched := false
			info, err := tab.Start(tt.id, func() (*proc, error) {
				launched = true
				if !tab.Has(tt.id) {
					t.Error("the id is not held while launch runs")
				}
				if _, err := tab.Get(tt.id); !errors.Is(err, runtime.ErrNotFound) {
					t.Errorf("Get while launching: %v; want ErrNotFound", err)
				}
				return newProc(tt.id, ""), tt.fail
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Start = %v; want %v", err, tt.wantErr)
			}
			if launched == errors.Is(err, runtime.ErrAlreadyExists) {
				t.Errorf("launched %v with error %v", launched, err)
			}
			if err == nil && (info.ID != tt.id || info.State != runtime.StateRunning) {
				t.Errorf("Start returned %+v", info)
			}
			if tab.Has(tt.id) != tt.kept {
				t.Errorf("Has(%q) = %v; want %v", tt.id, !tt.kept, tt.kept)
			}
		})
	}
}

func TestStartTakesAnIDOnce(t *testing.T) {
	tab := opened()
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := tab.Start("a", func() (*proc, error) { <-release; return newProc("a", ""), nil })
		done <- err
	}()
	runtimetest.Eventually(t, 10*time.Second, "the first Start to take the id", func() bool { return tab.Has("a") }, nil)
	if _, err := tab.Start("a", func() (*proc, error) { return newProc("a", ""), nil }); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("second Start while the first launches: %v; want ErrAlreadyExists", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPauseStartsHoldsStartsBack(t *testing.T) {
	tab := opened()
	resume := tab.PauseStarts()
	started := make(chan struct{})
	go func() {
		_, _ = tab.Start("a", func() (*proc, error) { return newProc("a", ""), nil })
		close(started)
	}()
	select {
	case <-started:
		t.Fatal("Start ran while starts were paused")
	case <-time.After(50 * time.Millisecond):
	}
	resume()
	select {
	case <-started:
	case <-time.After(patience):
		t.Fatal("Start did not run after resume")
	}
}

func TestListInspectActive(t *testing.T) {
	tab := opened()
	now := time.Now()
	for i, id := range []string{"c", "b", "a"} {
		p := newProc(id, "")
		p.StartedAt = now.Add(time.Duration(i) * time.Second)
		p.Labels, p.Warnings, p.PID = map[string]string{"k": id}, []string{"w"}, 100+i
		if err := tab.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Add(newProc("a", "")); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("Add of a held id: %v", err)
	}
	b, _ := tab.Get("b")
	b.Exit(runtime.ExitStatus{Code: 3})

	infos, err := tab.List()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, info := range infos {
		order = append(order, info.ID)
	}
	if strings.Join(order, ",") != "c,b,a" {
		t.Errorf("List order %v; want by start", order)
	}
	info, err := tab.Inspect("b")
	if err != nil || info.State != runtime.StateExited || info.Exit == nil || info.Exit.Code != 3 || info.Exit.Reason != "exited" ||
		info.Labels["k"] != "b" || info.PID != 101 || len(info.Warnings) != 1 {
		t.Errorf("Inspect(b) = %+v, %v", info, err)
	}
	info.Labels["k"] = "changed"
	if again, _ := tab.Inspect("b"); again.Labels["k"] != "b" {
		t.Error("Inspect shares the agent's labels with its caller")
	}
	if _, err := tab.Inspect("nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect of an unknown id: %v", err)
	}
	if n := tab.Active(); n != 2 {
		t.Errorf("Active = %d; want 2", n)
	}
	ids := tab.IDs()
	if len(ids) != 3 {
		t.Errorf("IDs = %v", ids)
	}
}

// Only ListWithEnv, for Recover, gives out an agent's env: it holds the
// agent's keys.
func TestOnlyListWithEnvHasTheEnv(t *testing.T) {
	tab := opened()
	now := time.Now()
	for i, id := range []string{"running", "exited"} {
		p := newProc(id, "")
		p.StartedAt = now.Add(time.Duration(i) * time.Second)
		p.Env = map[string]string{"KEY": "secret-" + id}
		if err := tab.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	exited, _ := tab.Get("exited")
	exited.Exit(runtime.ExitStatus{Code: 3})

	infos, err := tab.ListWithEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 ||
		infos[0].ID != "running" || infos[0].State != runtime.StateRunning || infos[0].Env["KEY"] != "secret-running" ||
		infos[1].ID != "exited" || infos[1].State != runtime.StateExited || infos[1].Exit == nil || infos[1].Exit.Code != 3 ||
		infos[1].Env["KEY"] != "secret-exited" {
		t.Fatalf("ListWithEnv = %+v; want both agents, by start, with their state and env", infos)
	}
	infos[0].Env["KEY"] = "changed"
	if again, _ := tab.ListWithEnv(); again[0].Env["KEY"] != "secret-running" {
		t.Error("ListWithEnv shares the agent's env with its caller")
	}

	list, _ := tab.List()
	info, _ := tab.Inspect("running")
	for _, got := range append(list, info) {
		if got.Env != nil {
			t.Errorf("List or Inspect gave out the env of %s", got.ID)
		}
	}
}

func TestExitReason(t *testing.T) {
	tests := []struct {
		name    string
		reasons []string // given to SetReason, in order
		st      string   // the runtime's own reason
		want    string
	}{
		{name: "exited by itself", want: "exited"},
		{name: "stopped", reasons: []string{"stopped"}, want: "stopped"},
		{name: "stopped then killed", reasons: []string{"stopped", "killed"}, want: "killed"},
		{name: "timeout stays", reasons: []string{"timeout", "killed"}, want: "timeout"},
		{name: "the runtime's reason wins", reasons: []string{"stopped"}, st: "out of memory", want: "out of memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProc("a", "")
			for _, r := range tt.reasons {
				p.SetReason(r)
			}
			if got := p.Exit(runtime.ExitStatus{Reason: tt.st}); got.Reason != tt.want {
				t.Errorf("reason %q; want %q", got.Reason, tt.want)
			}
			p.SetReason("late")
			if got := p.Info().Exit.Reason; got != tt.want {
				t.Errorf("a reason set after the exit changed it to %q", got)
			}
		})
	}
}

func TestExitWithSeesTheReason(t *testing.T) {
	p := newProc("a", "")
	p.SetReason("killed")
	st := p.ExitWith(func(reason string) runtime.ExitStatus {
		return runtime.ExitStatus{Code: -1, Signal: "SIGKILL", Reason: "ours: " + reason}
	})
	if st.Reason != "ours: killed" || !p.HasExited() {
		t.Errorf("ExitWith = %+v, exited %v", st, p.HasExited())
	}
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name     string
		exitOn   string
		graceful bool
		reason   string
		exited   bool // before Terminate
		signals  string
		want     string
	}{
		{name: "exits at term", exitOn: "term", graceful: true, reason: "stopped", signals: "term,kill", want: "stopped"},
		{name: "ignores term", exitOn: "kill", graceful: true, reason: "stopped", signals: "term,kill", want: "killed"},
		{name: "forced", exitOn: "kill", reason: "stopped", signals: "kill", want: "killed"},
		{name: "timeout escalates", exitOn: "kill", graceful: true, reason: "timeout", signals: "term,kill", want: "timeout"},
		{name: "already exited", exitOn: "kill", graceful: true, reason: "stopped", exited: true, signals: "kill", want: "exited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProc("a", tt.exitOn)
			if tt.exited {
				p.Exit(runtime.ExitStatus{})
			}
			if err := p.terminate(context.Background(), tt.graceful, 20*time.Millisecond, tt.reason); err != nil {
				t.Fatal(err)
			}
			if got := p.signals(); got != tt.signals {
				t.Errorf("signals %q; want %q", got, tt.signals)
			}
			if got := p.Info().Exit.Reason; got != tt.want {
				t.Errorf("reason %q; want %q", got, tt.want)
			}
		})
	}
}

func TestTerminateKillsWhenTheCallerGivesUp(t *testing.T) {
	p := newProc("a", "kill")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.terminate(ctx, true, patience, "stopped"); err != nil {
		t.Fatal(err)
	}
	if got := p.signals(); got != "term,kill" {
		t.Errorf("signals %q; want term,kill without waiting out the grace", got)
	}
}

func TestArmDeadline(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0 arms nothing
		exited   bool
		fires    bool
	}{
		{name: "fires", deadline: time.Millisecond, fires: true},
		{name: "none", deadline: 0},
		{name: "after the exit", deadline: time.Millisecond, exited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProc("a", "term")
			if tt.exited {
				p.Exit(runtime.ExitStatus{})
			}
			var deadline time.Time
			if tt.deadline != 0 {
				deadline = time.Now().Add(tt.deadline)
			}
			fired := make(chan struct{})
			p.ArmDeadline(deadline, func() error {
				close(fired)
				return p.terminate(context.Background(), true, patience, "timeout")
			})
			wait := 50 * time.Millisecond
			if tt.fires {
				wait = patience
			}
			select {
			case <-fired:
				if !tt.fires {
					t.Fatal("the deadline fired")
				}
			case <-time.After(wait):
				if tt.fires {
					t.Fatal("the deadline did not fire")
				}
				return
			}
			<-p.Exited()
			if got := p.Info().Exit.Reason; got != "timeout" {
				t.Errorf("reason %q; want timeout", got)
			}
		})
	}
}

func TestExitDisarmsTheDeadline(t *testing.T) {
	p := newProc("a", "")
	fired := make(chan struct{})
	p.ArmDeadline(time.Now().Add(30*time.Millisecond), func() error { close(fired); return nil })
	p.Exit(runtime.ExitStatus{})
	select {
	case <-fired:
		t.Fatal("the deadline fired after the exit")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestReleaseOnceAfterTheDrain(t *testing.T) {
	p := newProc("a", "")
	freed := 0
	free := func() error { freed++; return nil }
	released := make(chan error)
	go func() { released <- p.Release(context.Background(), free) }()
	select {
	case <-released:
		t.Fatal("Release went ahead before the output drained")
	case <-time.After(50 * time.Millisecond):
	}
	p.Drained()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if err := p.Release(context.Background(), free); err != nil || freed != 1 {
		t.Errorf("second Release: %v, freed %d times; want once", err, freed)
	}

	q := newProc("b", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Release(ctx, func() error { return errors.New("boom") }); err == nil {
		t.Error("Release after ctx ended did not call free, or lost its error")
	}
}

func TestWait(t *testing.T) {
	tab := opened()
	p := newProc("a", "")
	if err := tab.Add(p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := tab.Wait(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a running agent: %v; want the context's error", err)
	}
	go p.Exit(runtime.ExitStatus{Code: 7})
	st, err := tab.Wait(context.Background(), "a")
	if err != nil || st.Code != 7 {
		t.Errorf("Wait = %+v, %v", st, err)
	}
	if _, err := tab.Wait(context.Background(), "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait on an unknown id: %v", err)
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		endErr  error
		wantErr error
		kept    bool
	}{
		{name: "stops", id: "a"},
		{name: "end fails", id: "a", endErr: errors.New("boom"), kept: true},
		{name: "unknown", id: "nope", wantErr: runtime.ErrNotFound, kept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := opened()
			if err := tab.Add(newProc("a", "")); err != nil {
				t.Fatal(err)
			}
			err := tab.Stop(tt.id, func(*proc) error { return tt.endErr })
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("Stop = %v; want %v", err, tt.wantErr)
			case tt.endErr != nil && (!errors.Is(err, tt.endErr) || !strings.Contains(err.Error(), `stop "a"`)):
				t.Errorf("Stop = %v; want end's error, naming the agent", err)
			case tt.wantErr == nil && tt.endErr == nil && err != nil:
				t.Errorf("Stop = %v", err)
			}
			if tab.Has("a") != tt.kept {
				t.Errorf("Has(a) = %v after Stop; want %v", !tt.kept, tt.kept)
			}
		})
	}
}

func TestResize(t *testing.T) {
	tests := []struct {
		size    runtime.Size
		wantErr error
	}{
		{runtime.Size{Cols: 80, Rows: 24}, nil},
		{runtime.Size{Cols: 0, Rows: 24}, runtime.ErrInvalidSpec},
		{runtime.Size{Cols: 80}, runtime.ErrInvalidSpec},
	}
	tab := opened()
	if err := tab.Add(newProc("a", "")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		called := false
		err := tab.Resize("a", tt.size, func(*proc) error { called = true; return nil })
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) || called != (err == nil) {
			t.Errorf("Resize(%v) = %v, called %v; want %v", tt.size, err, called, tt.wantErr)
		}
	}
	if err := tab.Resize("nope", runtime.Size{Cols: 1, Rows: 1}, nil); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Resize of an unknown id: %v", err)
	}
}

func TestWhileEmpty(t *testing.T) {
	tests := []struct {
		name  string
		open  bool
		held  bool
		calls bool
	}{
		{name: "closed", calls: false},
		{name: "empty", open: true, calls: true},
		{name: "holds an agent", open: true, held: true, calls: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tab Table[*proc]
			if tt.open {
				tab.Open()
			}
			if tt.held {
				if err := tab.Add(newProc("a", "")); err != nil {
					t.Fatal(err)
				}
			}
			called := false
			if err := tab.WhileEmpty(func() error { called = true; return nil }); err != nil || called != tt.calls {
				t.Errorf("WhileEmpty: %v, called %v; want called %v", err, called, tt.calls)
			}
		})
	}
}

func TestInputAfterExit(t *testing.T) {
	p := newProc("a", "")
	var got []byte
	input := p.Input(func(b []byte) (int, error) { got = append(got, b...); return len(b), nil })
	if n, err := input([]byte("hi")); n != 2 || err != nil {
		t.Fatalf("input = %d, %v", n, err)
	}
	p.Exit(runtime.ExitStatus{})
	if _, err := input([]byte("late")); !errors.Is(err, ErrExited) || string(got) != "hi" {
		t.Errorf("input after the exit: %v, wrote %q", err, got)
	}
}

func TestUptime(t *testing.T) {
	p := newProc("a", "")
	p.StartedAt = time.Now().Add(-time.Hour)
	if up := p.Uptime(); up < time.Hour {
		t.Errorf("Uptime of a running agent = %v", up)
	}
	p.Exit(runtime.ExitStatus{ExitedAt: p.StartedAt.Add(time.Minute)})
	if up := p.Uptime(); up != time.Minute {
		t.Errorf("Uptime of an exited agent = %v; want until its exit", up)
	}
}
