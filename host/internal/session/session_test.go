package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/screen"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// fakeAdapter reads the screens of testdata/faketui.
type fakeAdapter struct{}

var fakeError = regexp.MustCompile(`(?m)^Error: `)

var fakeRules = []adapter.Rule{
	{Name: "fake: error", State: adapter.StateError, Match: fakeError,
		Extract: func(s screen.Lines, d *adapter.Detection) { d.Message = adapter.RowMatching(s, fakeError) }},
	{Name: "fake: login", State: adapter.StateLoginRequired, Match: regexp.MustCompile(`Sign in to continue`),
		Extract: func(s screen.Lines, d *adapter.Detection) { d.LoginURL = adapter.FirstURL(s) }},
	{Name: "fake: menu", State: adapter.StateQuestion, Match: regexp.MustCompile(`(?m)^❯ \d+\. `),
		Extract: func(s screen.Lines, d *adapter.Detection) {
			d.Question, d.Choices, d.Selected, _ = adapter.ParseMenu(s)
		}},
	{Name: "fake: thinking", State: adapter.StateBusy, Match: regexp.MustCompile(`esc to interrupt`)},
	{Name: "fake: queued", State: adapter.StateBusy, Match: regexp.MustCompile(`Queued \(press`)},
	{Name: "fake: prompt", State: adapter.StateReady, Match: regexp.MustCompile(`(?m)^─{10,}\n❯.*\n─{10,}`)},
}

func (fakeAdapter) Type() string { return "fake" }
func (fakeAdapter) Launch(adapter.LaunchOptions) (adapter.Launch, error) {
	return adapter.Launch{}, nil
}
func (fakeAdapter) Preseed(adapter.LaunchOptions) error     { return nil }
func (fakeAdapter) Detect(s screen.Lines) adapter.Detection { return adapter.Detect(fakeRules, s) }

// Reply is the "● " rows below the last echo of sent.
func (fakeAdapter) Reply(before, after screen.Lines, sent string) string {
	first, _, _ := strings.Cut(sent, "\n")
	start := -1
	for i, row := range after {
		if row == "> "+first {
			start = i
		}
	}
	if start < 0 {
		return ""
	}
	var out []string
	for _, row := range after[start+1:] {
		if !strings.HasPrefix(row, "● ") {
			break
		}
		out = append(out, strings.TrimPrefix(row, "● "))
	}
	return strings.Join(out, "\n")
}

var fakeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faketui")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeBin = filepath.Join(dir, "faketui")
	build := exec.Command("go", "build", "-o", fakeBin, "./testdata/faketui")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building faketui:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// agent is a faketui on a real PTY with a session reading it, the way the
// agents manager drives one.
type agent struct {
	*Session
	pty  *os.File
	mu   sync.Mutex
	evs  []events.Event
	done chan struct{}
}

const deadline = 20 * time.Second

func startAgent(t *testing.T, opts Options, args ...string) *agent {
	t.Helper()
	opts.Adapter = fakeAdapter{}
	return startProgram(t, opts, exec.Command(fakeBin, args...))
}

// startProgram runs cmd on a real PTY with a session reading it through
// opts.Adapter.
func startProgram(t testing.TB, opts Options, cmd *exec.Cmd) *agent {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{pty: f, done: make(chan struct{})}
	opts.Input = f
	opts.Cols, opts.Rows = 100, 30
	opts.ID = t.Name()
	opts.OnEvent = func(e events.Event) {
		a.mu.Lock()
		a.evs = append(a.evs, e)
		a.mu.Unlock()
	}
	if opts.Settle == 0 {
		// Longer than the default, so a loaded CI machine's scheduling
		// hiccups don't pass for a settled screen in the slow-drawing tests.
		opts.Settle = 400 * time.Millisecond
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.Session = s
	go func() {
		defer close(a.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				s.Feed(buf[:n])
			}
			if err != nil {
				break
			}
		}
		cmd.Wait()
		s.Exited("process exited", false)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-a.done
		f.Close()
	})
	return a
}

func (a *agent) events(name events.Name) []events.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []events.Event
	for _, e := range a.evs {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// eventually waits for cond; a failure shows the agent's state.
func (a *agent) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	runtimetest.Eventually(t, deadline, what, cond, func() string {
		return fmt.Sprintf("status %s, error %q, screen:\n%s", a.Status(), a.Error(), a.Screen().Text())
	})
}

func (a *agent) waitStatus(t *testing.T, want Status) {
	t.Helper()
	a.eventually(t, "status "+string(want), func() bool { return a.Status() == want })
}

func (a *agent) send(t *testing.T, text string) string {
	t.Helper()
	msg, err := a.Send(context.Background(), text, true, deadline)
	if err != nil {
		t.Fatalf("Send(%q): %v\nscreen:\n%s", text, err, a.Screen().Text())
	}
	return msg.Content
}

func TestSendRightWhenThePromptShows(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"fast drawing", []string{"-splash=200ms"}},
		// The prompt box shows, then the TUI draws on for a while and
		// drops what is typed before it is done.
		{"slow drawing", []string{"-splash=200ms", "-slow=100ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAgent(t, Options{}, tt.args...)
			a.eventually(t, "the prompt on screen", func() bool { return strings.Contains(a.Screen().Text(), "❯") })
			if got := a.send(t, "hello there"); got != "reply to: hello there" {
				t.Errorf("reply = %q", got)
			}
			if n := len(a.events(events.AgentReady)); n != 1 {
				t.Errorf("%d agent_ready events, want 1", n)
			}
			msgs := a.events(events.Message)
			if len(msgs) != 1 || msgs[0].Data.(events.MessageData).Content != "reply to: hello there" || msgs[0].Data.(events.MessageData).Role != "assistant" {
				t.Errorf("message events = %v", msgs)
			}
			var path []string
			for _, e := range a.events(events.Status) {
				path = append(path, e.Data.(events.StatusData).To)
			}
			if want := []string{"ready", "busy", "ready"}; !slices.Equal(path, want) {
				t.Errorf("statuses = %v, want %v", path, want)
			}
		})
	}
}

func TestReplySplitAcrossWrites(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"frame in five-byte writes", []string{"-chunked"}},
		// The prompt box shows all along while the reply grows.
		{"reply a word at a time", []string{"-stream=80ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAgent(t, Options{}, tt.args...)
			want := "reply to: the quick brown fox jumps over the lazy dog"
			if got := a.send(t, "the quick brown fox jumps over the lazy dog"); got != want {
				t.Errorf("reply = %q, want %q", got, want)
			}
		})
	}
}

func TestSameMessageThreeTimes(t *testing.T) {
	a := startAgent(t, Options{}, "-think=100ms")
	for i := range 3 {
		if got := a.send(t, "ping"); got != "reply to: ping" {
			t.Fatalf("reply %d = %q", i+1, got)
		}
	}
	if n := len(a.events(events.Message)); n != 3 {
		t.Errorf("%d message events, want 3", n)
	}
}

func TestMultiLineIsPasted(t *testing.T) {
	a := startAgent(t, Options{})
	if got := a.send(t, "first line\nsecond line\nthird"); got != "reply to: first line" {
		t.Errorf("reply = %q", got)
	}
}

func TestSendWhileBusy(t *testing.T) {
	a := startAgent(t, Options{}, "-think=2s")
	a.waitStatus(t, StatusReady)
	if _, err := a.Send(context.Background(), "long job", false, deadline); err != nil {
		t.Fatal(err)
	}
	if got := a.Status(); got != StatusBusy {
		t.Fatalf("status after Send without reply = %s, want busy", got)
	}
	if _, err := a.Send(context.Background(), "another", true, deadline); !errors.Is(err, ErrBusy) {
		t.Errorf("Send while busy: %v, want ErrBusy", err)
	}
	a.waitStatus(t, StatusReady)
	if got := a.send(t, "next"); got != "reply to: next" {
		t.Errorf("reply after the busy turn = %q", got)
	}
}

func TestSendWhileAnotherSendIsInFlight(t *testing.T) {
	a := startAgent(t, Options{}, "-splash=1s")
	first := make(chan error, 1)
	go func() {
		_, err := a.Send(context.Background(), "first", true, deadline)
		first <- err
	}()
	a.eventually(t, "the first Send under way", func() bool {
		return a.Session.sendingNow()
	})
	if _, err := a.Send(context.Background(), "second", true, deadline); !errors.Is(err, ErrBusy) {
		t.Errorf("second Send: %v, want ErrBusy", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Send: %v", err)
	}
}

func TestQuestion(t *testing.T) {
	a := startAgent(t, Options{}, "-trust")
	a.eventually(t, "a question event", func() bool { return len(a.events(events.Question)) == 1 })
	ev := a.events(events.Question)[0]
	if q := ev.Data.(events.QuestionData).Asked; q == nil || q.Question != "Do you trust the files in this folder?" ||
		!slices.Equal(q.Choices, []string{"Yes, proceed", "No, exit"}) || q.Selected != 0 {
		t.Errorf("question event data = %+v", q)
	}
	if ev.AgentID != t.Name() {
		t.Errorf("question event's agent = %q, want the session's ID", ev.AgentID)
	}
	if got := a.Status(); got != StatusStarting {
		t.Errorf("status with a question = %s, want starting", got)
	}
	if _, err := a.Send(context.Background(), "hi", true, deadline); !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "trust") {
		t.Errorf("Send with a question: %v, want ErrBlocked naming it", err)
	}

	// Move off the answer, then let Choose come back to it with Up.
	if err := a.SendKeys([]string{"Down"}); err != nil {
		t.Fatal(err)
	}
	a.eventually(t, "the highlight on choice 2", func() bool { p := a.Pending(); return p != nil && p.Selected == 1 })
	if err := a.Choose(1); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, StatusReady)
	if p := a.Pending(); p != nil {
		t.Errorf("Pending after the answer = %v", p)
	}
	if n := len(a.events(events.Question)); n != 1 {
		t.Errorf("%d question events, want 1 (moving the highlight is no new question)", n)
	}
	if err := a.Choose(1); !errors.Is(err, ErrNoQuestion) {
		t.Errorf("Choose without a question: %v", err)
	}
}

func TestLogin(t *testing.T) {
	a := startAgent(t, Options{}, "-login")
	a.eventually(t, "a login_required event", func() bool { return len(a.events(events.LoginRequired)) == 1 })
	if got := a.events(events.LoginRequired)[0].Data.(events.LoginRequiredData).LoginURL; got != "https://login.example.com/device?code=ABCD-1234" {
		t.Errorf("loginUrl = %v", got)
	}
	if p := a.Pending(); p == nil || p.Type != events.LoginRequired {
		t.Fatalf("Pending = %v", p)
	}
	if err := a.SendKeys([]string{"Enter"}); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, StatusReady)
	if p := a.Pending(); p != nil {
		t.Errorf("Pending after login = %v", p)
	}
}

func TestStartTimeout(t *testing.T) {
	a := startAgent(t, Options{StartTimeout: 300 * time.Millisecond}, "-splash=1h")
	a.waitStatus(t, StatusError)
	if err := a.Error(); !strings.Contains(err, "not ready after 300ms") || !strings.Contains(err, "Welcome to FakeTUI\n  starting…") {
		t.Errorf("Error() = %q, want the timeout and the screen", err)
	}
	if evs := a.events(events.AgentError); len(evs) != 1 {
		t.Errorf("agent_error events = %v", evs)
	}
	if _, err := a.Send(context.Background(), "hi", true, deadline); !errors.Is(err, ErrFailed) {
		t.Errorf("Send in error: %v, want ErrFailed", err)
	}
}

func TestStartTimeoutWaitsForTheUser(t *testing.T) {
	a := startAgent(t, Options{StartTimeout: 300 * time.Millisecond}, "-trust")
	a.eventually(t, "a question", func() bool { return a.Pending() != nil })
	a.eventually(t, "the start timeout to pass", func() bool {
		a.Session.mu.Lock()
		defer a.Session.mu.Unlock()
		return a.startExpired
	})
	if got := a.Status(); got != StatusStarting {
		t.Fatalf("status after the start timeout with a question pending = %s, want starting", got)
	}
	if err := a.Choose(1); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, StatusReady)
}

func TestErrorScreen(t *testing.T) {
	a := startAgent(t, Options{}, "-error=unable to reach api.example.com")
	a.waitStatus(t, StatusError)
	if got := a.Error(); got != "Error: unable to reach api.example.com" {
		t.Errorf("Error() = %q", got)
	}
}

func TestResizeMidTurn(t *testing.T) {
	a := startAgent(t, Options{}, "-think=1s")
	a.waitStatus(t, StatusReady)
	type result struct {
		msg Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err := a.Send(context.Background(), "resize me", true, deadline)
		done <- result{msg, err}
	}()
	a.waitStatus(t, StatusBusy)
	if err := pty.Setsize(a.pty, &pty.Winsize{Cols: 70, Rows: 20}); err != nil {
		t.Fatal(err)
	}
	a.Resize(70, 20)
	r := <-done
	if r.err != nil || r.msg.Content != "reply to: resize me" {
		t.Fatalf("Send = %q, %v\nscreen:\n%s", r.msg.Content, r.err, a.Screen().Text())
	}
	if got := len(a.Screen()); got != 20 {
		t.Errorf("%d rows after resize, want 20", got)
	}
	if rule := a.Screen()[3]; rule != strings.Repeat("─", 70) {
		t.Errorf("the TUI did not redraw at the new width: row 3 = %q", rule)
	}
}

func TestExit(t *testing.T) {
	a := startAgent(t, Options{})
	a.waitStatus(t, StatusReady)
	if err := a.SendKeys([]string{"CtrlC"}); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, StatusStopped)
	if _, err := a.Send(context.Background(), "hi", true, deadline); !errors.Is(err, ErrStopped) {
		t.Errorf("Send after exit: %v, want ErrStopped", err)
	}
	if n := a.timersArmed(); n != 0 {
		t.Errorf("%d timers armed after exit", n)
	}
}

func TestSendKeysRejectsUnknownNames(t *testing.T) {
	s, err := New(Options{Adapter: fakeAdapter{}, Input: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Exited("test over", false)
	if err := s.SendKeys([]string{"Up", "Hyper"}); err == nil || !strings.Contains(err.Error(), "Hyper") {
		t.Errorf("SendKeys with an unknown key: %v", err)
	}
}

func (s *Session) sendingNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sending
}

// TestReplyLatency logs how long after the reply is drawn Send returns,
// with the default Settle and Throttle.
func TestReplyLatency(t *testing.T) {
	a := startAgent(t, Options{Settle: 250 * time.Millisecond}, "-think=300ms")
	a.waitStatus(t, StatusReady)
	for i := range 3 {
		text := fmt.Sprint("latency ", i)
		drawn := make(chan time.Time, 1)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				if strings.Contains(a.Screen().Text(), "● reply to: "+text) {
					drawn <- time.Now()
					return
				}
			}
		}()
		a.send(t, text)
		returned := time.Now()
		close(stop)
		select {
		case d := <-drawn:
			t.Logf("reply %d returned %v after it was drawn", i+1, returned.Sub(d).Round(time.Millisecond))
		default:
			t.Errorf("Send returned before the reply was on screen")
		}
	}
}

// scripted is an agent that draws its screens straight into the session
// and ignores the first ignore Enters.
type scripted struct {
	s       *Session
	mu      sync.Mutex
	enters  int
	ignore  int
	typed   string
	replies int
}

func (w *scripted) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rule := strings.Repeat("─", 40)
	box := func(input string) string {
		return rule + "\r\n❯ " + input + "\r\n" + rule + "\r\n  ? for shortcuts"
	}
	if string(p) != "\r" {
		w.typed += string(p)
		w.s.Feed([]byte("\x1b[H\x1b[2J" + box(w.typed)))
		return len(p), nil
	}
	w.enters++
	if w.enters <= w.ignore {
		return len(p), nil
	}
	text := w.typed
	w.typed = ""
	w.replies++
	w.s.Feed([]byte("\x1b[H\x1b[2J> " + text + "\r\n\r\n⠋ esc to interrupt\r\n" + box("")))
	time.AfterFunc(100*time.Millisecond, func() {
		w.s.Feed([]byte("\x1b[H\x1b[2J> " + text + "\r\n● reply to: " + text + "\r\n" + box("")))
	})
	return len(p), nil
}

func TestEnterIsPressedAgainWhenIgnored(t *testing.T) {
	tests := []struct {
		name   string
		ignore int
		want   error
	}{
		{"first Enter lost", 1, nil},
		{"every Enter lost", 10, ErrNoReaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &scripted{ignore: tt.ignore}
			s, err := New(Options{Adapter: fakeAdapter{}, Input: w, Cols: 60, Rows: 10, ReactTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Exited("test over", false)
			w.s = s
			s.Feed([]byte(strings.Repeat("─", 40) + "\r\n❯ \r\n" + strings.Repeat("─", 40)))
			msg, err := s.Send(context.Background(), "hi", true, deadline)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Send: %v, want %v", err, tt.want)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.enters != min(2, tt.ignore+1) {
				t.Errorf("%d Enters, want %d", w.enters, min(2, tt.ignore+1))
			}
			if tt.want == nil && msg.Content != "reply to: hi" {
				t.Errorf("reply = %q", msg.Content)
			}
		})
	}
}
