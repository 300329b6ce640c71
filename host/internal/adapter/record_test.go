package adapter

// The recorder: runs the real agent CLIs in a PTY and saves what they print
// as testdata/<cli>/<state>.raw (every byte from spawn until the state was
// drawn and settled) with testdata/<cli>/<state>.txt beside it (the final
// screen, rendered by the host's own screen package, so it shows what
// the host reads). It only runs when asked:
//
//	PARALLAX_AGENT_CLIS="$(sh ../test/agent-clis/install.sh)" \
//	  go test ./internal/adapter -run TestRecord -record [-record.only 'claude/']
//
// Every run gets its own HOME, CODEX_HOME and workdir in a temp dir, a
// 120x40 terminal with TERM=xterm-256color, no network but loopback, and,
// where a turn is needed, a fake model server from internal/fakemodel.
// See testdata/README.md for what each recording shows.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/parallax/parallax/host/internal/fakemodel"
	"github.com/parallax/parallax/host/internal/screen"
)

var (
	record     = flag.Bool("record", false, "record the real agent CLIs into testdata/ (needs PARALLAX_AGENT_CLIS)")
	recordOnly = flag.String("record.only", "", "record only the scenarios whose <cli>/<scenario> matches this regexp")
	recordOut  = flag.String("record.out", "testdata", "directory the recordings are written to")
)

const (
	recCols, recRows = 120, 40
	// settleQuiet is how long the output must be quiet before a state
	// counts as fully drawn; settleMax caps the wait for screens that
	// never go quiet (spinners, timers).
	settleQuiet = time.Second
	settleMax   = 4 * time.Second
)

// Keys, typed as plain keystrokes; menus read an ESC-prefixed paste as
// cancel.
const (
	keyEnter = "\r"
	keyUp    = "\x1b[A"
	keyDown  = "\x1b[B"
	keyEsc   = "\x1b"
)

// Fake keys with a marker that is easy to grep for and can't be mistaken
// for a real one.
const (
	fakeAnthropicKey = "sk-ant-FAKE-parallax-0000000000000000-abcdefghij0123456789"
	fakeOpenAIKey    = "sk-FAKE-parallax-00000000000000000000000000000000"
	fakeGeminiKey    = "AIzaFAKE-parallax-000000000000000000000"
)

// scenario is one run of one CLI from spawn; run saves one or more states
// on the way with s.save.
type scenario struct {
	cli, name string
	args      []string
	env       map[string]string
	// setup pre-seeds the home and workdir, starts fakes, adds env and
	// args, before the CLI starts.
	setup func(t *testing.T, s *session)
	run   func(t *testing.T, s *session)
}

// claudeIdle is Claude Code's footer at an idle prompt: "? for shortcuts"
// up to 2.1.197; 2.1.332 shows its permission mode there instead.
const claudeIdle = `\? for shortcuts|auto mode on|bypass permissions on`

func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("recorder; run with -record to refresh testdata/ from the real CLIs")
	}
	bin := os.Getenv("PARALLAX_AGENT_CLIS")
	if bin == "" {
		t.Fatal("PARALLAX_AGENT_CLIS must name the agent CLIs' bin dir: PARALLAX_AGENT_CLIS=$(sh test/agent-clis/install.sh)")
	}
	only := regexp.MustCompile(*recordOnly)
	for _, sc := range recordScenarios() {
		id := sc.cli + "/" + sc.name
		if !only.MatchString(id) {
			continue
		}
		t.Run(id, func(t *testing.T) {
			s := newSession(t, bin, sc)
			sc.run(t, s)
		})
	}
	if only.MatchString("aider/hand-written") {
		t.Run("aider/hand-written", renderHandWritten)
	}
}

// renderHandWritten renders the hand-written Aider recordings (Aider can't
// be installed here; see testdata/README.md) to their .txt screens.
func renderHandWritten(t *testing.T) {
	raws, _ := filepath.Glob(filepath.Join(*recordOut, "aider", "*.raw"))
	for _, p := range raws {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		term := screen.New(recCols, recRows)
		_, _ = term.Write(raw)
		txt := strings.TrimSuffix(p, ".raw") + ".txt"
		if err := os.WriteFile(txt, []byte(renderScreen(term)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rendered %s", txt)
	}
}

func recordScenarios() []scenario {
	var out []scenario
	out = append(out, claudeScenarios()...)
	out = append(out, codexScenarios()...)
	out = append(out, geminiScenarios()...)
	return out
}

// session is one CLI running in a PTY, with everything it printed and
// the host's screen of it.
type session struct {
	t               *testing.T
	cli             string
	dir, home, work string
	codexHome       string
	args            []string
	env             map[string]string
	start           time.Time
	cmd             *exec.Cmd
	ptmx            *os.File
	marker          string
	mu              sync.Mutex
	raw             []byte
	term            *screen.Screen
	lastOut         time.Time
	done            chan struct{} // closed when the PTY reader ends
	exited          chan struct{} // closed when the CLI exits
	waitErr         error
	firstByteAt     time.Duration
	// Fakes a scenario started, and the gate that holds their turns.
	anthropic *fakemodel.Anthropic
	openai    *fakemodel.OpenAIResponses
	gate      chan struct{}
}

var sessionSeq int

func newSession(t *testing.T, bin string, sc scenario) *session {
	dir := t.TempDir()
	s := &session{
		t:         t,
		cli:       sc.cli,
		dir:       dir,
		home:      filepath.Join(dir, "home"),
		codexHome: filepath.Join(dir, "home", ".codex"),
		work:      filepath.Join(dir, "work"),
		args:      append([]string{}, sc.args...),
		done:      make(chan struct{}),
		exited:    make(chan struct{}),
	}
	sessionSeq++
	s.marker = fmt.Sprintf("%d-%d", os.Getpid(), sessionSeq)
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{s.home, s.codexHome, s.work, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	node, _ := exec.LookPath("node")
	path := bin
	if node != "" {
		path += ":" + filepath.Dir(node)
	}
	path += ":/usr/local/bin:/usr/bin:/bin"
	s.env = map[string]string{
		"PATH":       path,
		"HOME":       s.home,
		"CODEX_HOME": s.codexHome,
		"TERM":       "xterm-256color",
		"LANG":       "C.UTF-8",
		"SHELL":      "/bin/bash",
		"USER":       "parallax",
		// The CLIs leave files in the temp dir (claude-<uid>/,
		// codex-daemon-<uid>/ sockets, gemini-client-error-*.json); keep
		// them in the run's dir.
		"TMPDIR": tmp,
		// Finds this run's processes, detached ones included, at cleanup.
		"PARALLAX_RECORD_RUN": s.marker,
	}
	for k, v := range sc.env {
		s.env[k] = v
	}
	if sc.setup != nil {
		sc.setup(t, s)
	}
	s.spawn(filepath.Join(bin, sc.cli))
	return s
}

func (s *session) spawn(binary string) {
	t := s.t
	cmd := exec.Command(binary, s.args...)
	cmd.Dir = s.work
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s.term = screen.New(recCols, recRows)
	s.term.SetResponder(ptyAnswer{s})
	s.start = time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: recCols, Rows: recRows})
	if err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	s.cmd, s.ptmx = cmd, ptmx
	t.Logf("spawned %s %s (pid %d) in %s", s.cli, strings.Join(s.args, " "), cmd.Process.Pid, s.work)
	t.Cleanup(s.kill)
	go s.read()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
}

// ptyAnswer carries the screen's answers to the CLI's terminal queries (cursor
// position, status) back to it, as a real terminal would.
type ptyAnswer struct{ s *session }

func (a ptyAnswer) Write(p []byte) (int, error) {
	// Called from read; write from elsewhere so a full PTY buffer can't
	// deadlock the reader.
	b := append([]byte(nil), p...)
	go func() { _, _ = a.s.ptmx.Write(b) }()
	return len(p), nil
}

func (s *session) read() {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := s.ptmx.Read(buf)
		if n > 0 {
			s.mu.Lock()
			if s.firstByteAt == 0 {
				s.firstByteAt = time.Since(s.start)
			}
			s.raw = append(s.raw, buf[:n]...)
			s.lastOut = time.Now()
			// The screen keeps a rune split across writes for the next.
			_, _ = s.term.Write(buf[:n])
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// kill ends the CLI's whole process group and any process of this run
// that left it (codex detaches an app-server), then waits for them.
func (s *session) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	for range 50 {
		pids := s.runPIDs()
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			s.t.Logf("killing leftover process %d of this run", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-s.exited
	_ = s.ptmx.Close()
	<-s.done
}

// runPIDs finds the live processes whose environment carries this run's
// marker.
func (s *session) runPIDs() []int {
	want := []byte("PARALLAX_RECORD_RUN=" + s.marker + "\x00")
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue // a zombie, waiting for its parent to reap it
		}
		out = append(out, pid)
	}
	return out
}

// screen renders the current screen, one row per line, trailing spaces
// trimmed.
func (s *session) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return renderScreen(s.term)
}

func renderScreen(term *screen.Screen) string {
	var b strings.Builder
	for _, row := range term.Lines() {
		b.WriteString(strings.TrimRight(row, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// waitFor waits until the screen matches re, and fails the test with the
// screen if it doesn't within d.
func (s *session) waitFor(re string, d time.Duration) {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for {
		scr := s.screen()
		if rx.MatchString(scr) {
			s.t.Logf("%s: %q on screen after %v", s.cli, re, time.Since(s.start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: no %q on screen after %v; screen:\n%s", s.cli, re, d, scr)
		}
		select {
		case <-s.exited:
			<-s.done
			if rx.MatchString(s.screen()) {
				s.t.Logf("%s: %q on screen; it exited after %v", s.cli, re, time.Since(s.start).Round(100*time.Millisecond))
				return
			}
			s.t.Fatalf("%s exited (%v) before %q; screen:\n%s", s.cli, s.waitErr, re, s.screen())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settle waits until the CLI has printed nothing for settleQuiet, or
// settleMax passed.
func (s *session) settle() {
	deadline := time.Now().Add(settleMax)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		quiet := time.Since(s.lastOut)
		s.mu.Unlock()
		if quiet >= settleQuiet {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// send writes keystrokes as one write.
func (s *session) send(keys string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(keys)); err != nil {
		s.t.Fatalf("write to %s: %v", s.cli, err)
	}
}

// typeLine types text, waits for its echo, then sends Enter as a
// separate write; text and Enter in one write is taken as a paste.
func (s *session) typeLine(text string) {
	s.t.Helper()
	s.send(text)
	s.waitFor(regexp.QuoteMeta(text), 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.send(keyEnter)
}

// save settles, then writes <out>/<cli>/<state>.raw with every byte so
// far and <state>.txt with the screen.
func (s *session) save(state string) {
	s.t.Helper()
	s.settle()
	s.saveNow(state)
}

// saveNow saves the state as it is, for a screen that would not stay.
func (s *session) saveNow(state string) {
	s.t.Helper()
	s.mu.Lock()
	raw := append([]byte(nil), s.raw...)
	scr := renderScreen(s.term)
	at := time.Since(s.start)
	s.mu.Unlock()
	dir := filepath.Join(*recordOut, s.cli)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	base := filepath.Join(dir, state)
	if err := os.WriteFile(base+".raw", raw, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(base+".txt", []byte(scr), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("saved %s (%d bytes, %v after spawn):\n%s", base, len(raw), at.Round(100*time.Millisecond), scr)
}

// logExit logs whether the CLI exits within d, and with what.
func (s *session) logExit(d time.Duration) {
	select {
	case <-s.exited:
		s.t.Logf("%s exited by itself after %v: %v", s.cli, time.Since(s.start).Round(100*time.Millisecond), s.waitErr)
	case <-time.After(d):
		s.t.Logf("%s still running %v after the screen", s.cli, d)
	}
}

// assertFile fails unless the file's content matches re.
func (s *session) assertFile(path, re string) {
	s.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		s.t.Errorf("read %s: %v", path, err)
		return
	}
	if !regexp.MustCompile(re).Match(b) {
		s.t.Errorf("%s doesn't match %q:\n%s", path, re, b)
		return
	}
	s.t.Logf("%s matches %q", path, re)
}

// writeFile writes a file of the run, making its directory.
func (s *session) writeFile(path, content string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) writeJSON(path string, v any) {
	s.t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeFile(path, string(b)+"\n")
}

// --- Claude Code ---

// claudeOnboarded pre-seeds $HOME/.claude.json past the onboarding and the
// workdir's trust dialog, merged with extra.
func claudeOnboarded(s *session, extra map[string]any) {
	state := map[string]any{
		"hasCompletedOnboarding": true,
		"projects": map[string]any{s.work: map[string]any{
			"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true,
		}},
	}
	for k, v := range extra {
		state[k] = v
	}
	s.writeJSON(filepath.Join(s.home, ".claude.json"), state)
}

// withAnthropic starts a fake Anthropic API for the run, holding every turn
// until gate is closed, and points the CLI at it with a fake key. opts
// add to the fake's options (fakemodel.WithError).
func withAnthropic(t *testing.T, s *session, gate chan struct{}, opts ...fakemodel.Option) *fakemodel.Anthropic {
	fake := fakemodel.NewAnthropic(append([]fakemodel.Option{fakemodel.WithGate(gate), fakemodel.WithLog(t.Logf)}, opts...)...)
	t.Cleanup(func() {
		closeGate(gate)
		fake.Close()
	})
	s.env["ANTHROPIC_BASE_URL"] = fake.URL()
	s.env["ANTHROPIC_API_KEY"] = fakeAnthropicKey
	return fake
}

func closeGate(gate chan struct{}) {
	select {
	case <-gate:
	default:
		close(gate)
	}
}

// claudeEnv is the env the host launches Claude Code with (Launch, asking
// for approval so as not to add IS_SANDBOX): its screens differ without it.
var claudeEnv = func() map[string]string {
	l, _ := Claude{}.Launch(LaunchOptions{Approval: "ask"})
	return l.Env
}()

func claudeScenarios() []scenario {
	// Claude Code shows a key as "sk-ant-...<last 20 chars>" and remembers
	// approved keys by those 20 chars.
	keyTail := fakeAnthropicKey[len(fakeAnthropicKey)-20:]
	approved := map[string]any{"customApiKeyResponses": map[string]any{"approved": []string{keyTail}, "rejected": []string{}}}
	return []scenario{
		{cli: "claude", name: "error-offline", env: claudeEnv, run: func(t *testing.T, s *session) {
			s.waitFor(`Unable to connect to Anthropic services`, time.Minute)
			s.save("error-offline")
			s.logExit(5 * time.Second)
		}},
		{cli: "claude", name: "apikey-question", env: claudeEnv, setup: func(t *testing.T, s *session) {
			withAnthropic(t, s, make(chan struct{}))
			claudeOnboarded(s, nil)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Do you want to use this API key\?`, time.Minute)
			s.save("apikey-question")
			s.send(keyUp)
			time.Sleep(300 * time.Millisecond)
			s.send(keyEnter)
			s.waitFor(claudeIdle, 30*time.Second)
			s.settle()
			t.Logf("after Up, Enter:\n%s", s.screen())
			s.assertFile(filepath.Join(s.home, ".claude.json"), `"approved"`)
		}},
		// Onboarded, but no key at all: Claude Code draws its prompt box
		// with "Not logged in · Run /login" in the footer.
		{cli: "claude", name: "not-logged-in", env: claudeEnv, setup: func(t *testing.T, s *session) {
			claudeOnboarded(s, nil)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Not logged in`, time.Minute)
			s.save("not-logged-in")
			// A message typed anyway gets "Not logged in · Please run
			// /login" as its answer, and the footer stays.
			s.typeLine("Say hello")
			s.waitFor(`Please run /login`, 30*time.Second)
			s.settle()
			s.save("not-logged-in-sent")
		}},
		// The API key question answered with its default, "No": the key is
		// rejected and Claude Code is as logged out as with no key.
		{cli: "claude", name: "apikey-rejected", env: claudeEnv, setup: func(t *testing.T, s *session) {
			withAnthropic(t, s, make(chan struct{}))
			claudeOnboarded(s, nil)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Do you want to use this API key\?`, time.Minute)
			s.settle()
			s.send(keyEnter)
			s.waitFor(`Not logged in`, 30*time.Second)
			s.save("apikey-rejected")
			s.assertFile(filepath.Join(s.home, ".claude.json"), `"rejected": \[\s*"`+regexp.QuoteMeta(keyTail)+`"`)
		}},
		{cli: "claude", name: "turn", env: claudeEnv, setup: func(t *testing.T, s *session) {
			gate := make(chan struct{})
			s.anthropic = withAnthropic(t, s, gate)
			s.gate = gate
			claudeOnboarded(s, approved)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(claudeIdle, time.Minute)
			s.save("ready")
			s.typeLine("Say hello")
			s.waitFor(`esc to interrupt`, 30*time.Second)
			s.save("busy")
			closeGate(s.gate)
			s.waitFor(`Hello from the fake model\.`, 30*time.Second)
			s.waitFor(claudeIdle, 30*time.Second)
			s.save("reply")
			t.Logf("fake saw %d turns, last user text %q", s.anthropic.TurnCount(), s.anthropic.LastUserText())
		}},
		// A turn that fails at the API the way an account out of credit
		// does: 400 invalid_request_error "Your credit balance is too
		// low…". The fake answers every turn so, at once (its gate is
		// open).
		{cli: "claude", name: "error-credit", env: claudeEnv, setup: func(t *testing.T, s *session) {
			gate := make(chan struct{})
			close(gate)
			s.anthropic = withAnthropic(t, s, gate, fakemodel.WithError(400, "invalid_request_error", claudeCreditError))
			claudeOnboarded(s, approved)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(claudeIdle, time.Minute)
			s.typeLine("Say hello")
			s.waitFor(`Credit balance too low`, time.Minute)
			s.waitFor(claudeIdle, 30*time.Second)
			s.save("error-credit")
			t.Logf("fake saw %d turns, statuses %v", s.anthropic.TurnCount(), turnStatuses(s.anthropic.Turns()))
		}},
		{cli: "claude", name: "bypass-question", env: claudeEnv, args: []string{"--dangerously-skip-permissions"}, setup: func(t *testing.T, s *session) {
			s.anthropic = withAnthropic(t, s, make(chan struct{}))
			s.env["IS_SANDBOX"] = "1" // we run as root; see README
			claudeOnboarded(s, approved)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Bypass Permissions mode`, time.Minute)
			s.save("bypass-question")
			s.send(keyDown)
			time.Sleep(300 * time.Millisecond)
			s.send(keyEnter)
			s.waitFor(`\? for shortcuts|bypass permissions on`, 30*time.Second)
			s.settle()
			t.Logf("after Down, Enter:\n%s", s.screen())
			s.assertFile(filepath.Join(s.home, ".claude", "settings.json"), `"skipDangerousModePermissionPrompt": true`)
		}},
		{cli: "claude", name: "ready-bypass", env: claudeEnv, args: []string{"--dangerously-skip-permissions"}, setup: func(t *testing.T, s *session) {
			s.anthropic = withAnthropic(t, s, make(chan struct{}))
			s.env["IS_SANDBOX"] = "1"
			claudeOnboarded(s, approved)
			// What accepting the bypass question writes. The older
			// "bypassPermissionsModeAccepted": true in .claude.json works too
			// (2.1.197 migrates it to this).
			s.writeJSON(filepath.Join(s.home, ".claude", "settings.json"), map[string]any{"skipDangerousModePermissionPrompt": true})
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`bypass permissions on`, time.Minute)
			s.save("ready-bypass")
		}},
		// No key, with --dangerously-skip-permissions: 2.1.332 draws its
		// prompt, then "← for agents" in the footer, and only when that
		// hint goes, 10 s on, "Not logged in" beside the bypass footer.
		{cli: "claude", name: "not-logged-in-bypass", env: claudeEnv, args: []string{"--dangerously-skip-permissions"}, setup: func(t *testing.T, s *session) {
			s.env["IS_SANDBOX"] = "1"
			claudeOnboarded(s, nil)
			s.writeJSON(filepath.Join(s.home, ".claude", "settings.json"), map[string]any{"skipDangerousModePermissionPrompt": true})
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`bypass permissions on`, time.Minute)
			s.settle()
			t.Logf("before the notice:\n%s", s.screen())
			s.waitFor(`Not logged in`, time.Minute)
			s.save("not-logged-in-bypass")
		}},
		{cli: "claude", name: "bypass-root-refused", env: claudeEnv, args: []string{"--dangerously-skip-permissions"}, setup: func(t *testing.T, s *session) {
			if os.Getuid() != 0 {
				t.Skip("only root is refused")
			}
			s.anthropic = withAnthropic(t, s, make(chan struct{}))
			claudeOnboarded(s, approved)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`cannot be used with root`, 30*time.Second)
			s.save("bypass-root-refused")
			s.logExit(5 * time.Second)
		}},
	}
}

// --- Codex CLI ---

// codexSeeded pre-seeds $CODEX_HOME past the sign-in (auth.json with an
// API key) and the workdir's trust question (config.toml), with extra
// config.toml lines at the top.
func codexSeeded(s *session, topConfig string) {
	s.writeJSON(filepath.Join(s.codexHome, "auth.json"), map[string]any{"OPENAI_API_KEY": fakeOpenAIKey})
	s.writeFile(filepath.Join(s.codexHome, "config.toml"), fmt.Sprintf("%s\n[projects.%q]\ntrust_level = \"trusted\"\n", topConfig, s.work))
}

// withOpenAI starts a fake Responses API for the run, holding every turn
// until gate is closed. opts add to the fake's options.
func withOpenAI(t *testing.T, s *session, gate chan struct{}, opts ...fakemodel.Option) *fakemodel.OpenAIResponses {
	fake := fakemodel.NewOpenAIResponses(append([]fakemodel.Option{fakemodel.WithGate(gate), fakemodel.WithLog(t.Logf)}, opts...)...)
	t.Cleanup(func() {
		closeGate(gate)
		fake.Close()
	})
	s.env["OPENAI_API_KEY"] = fakeOpenAIKey
	s.openai, s.gate = fake, gate
	return fake
}

func codexScenarios() []scenario {
	return []scenario{
		{cli: "codex", name: "login", run: func(t *testing.T, s *session) {
			s.waitFor(`Press enter to continue`, time.Minute)
			s.save("login")
		}},
		{cli: "codex", name: "login-apikey", env: map[string]string{"OPENAI_API_KEY": fakeOpenAIKey}, run: func(t *testing.T, s *session) {
			s.waitFor(`Press enter to continue`, time.Minute)
			s.send("3")
			s.waitFor(`Use an OpenAI API key`, 30*time.Second)
			s.save("login-other")
			s.send(keyEnter)
			s.waitFor(`Press enter to save`, 30*time.Second)
			s.save("apikey-prompt")
			s.send(keyEnter)
			s.waitFor(`(?i)trust|for shortcuts`, 30*time.Second)
			s.settle()
			t.Logf("after saving the key:\n%s", s.screen())
			if strings.Contains(strings.ToLower(s.screen()), "trust") {
				s.save("trust-question")
			}
			s.logHomeFiles(".codex")
		}},
		{cli: "codex", name: "turn", setup: func(t *testing.T, s *session) {
			fake := withOpenAI(t, s, make(chan struct{}))
			codexSeeded(s, fake.CodexConfig())
		}, run: func(t *testing.T, s *session) {
			// The composer shows at once, but the footer with the model
			// only once the app-server is up, seconds later.
			s.waitFor(`\? for shortcuts`, time.Minute)
			s.save("starting")
			s.waitFor(`for agents`, time.Minute)
			s.save("ready")
			s.typeLine("Say hello")
			s.waitFor(`esc to interrupt`, 30*time.Second)
			s.save("busy")
			closeGate(s.gate)
			s.waitFor(`Hello from the fake model\.`, 30*time.Second)
			s.waitFor(`Worked for`, 30*time.Second)
			s.save("reply")
			t.Logf("fake saw %d turns, user texts %q", s.openai.TurnCount(), s.openai.UserTexts())
		}},
		// A turn that fails at the API the way an account out of quota
		// does: 429 insufficient_quota.
		{cli: "codex", name: "error-quota", setup: func(t *testing.T, s *session) {
			gate := make(chan struct{})
			close(gate)
			fake := withOpenAI(t, s, gate, fakemodel.WithError(429, "insufficient_quota", codexQuotaError))
			codexSeeded(s, fake.CodexConfig())
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`for agents`, time.Minute)
			s.typeLine("Say hello")
			s.waitFor(`(?i)quota`, 2*time.Minute)
			s.waitFor(`\? for shortcuts`, 30*time.Second)
			s.save("error-quota")
			t.Logf("fake saw %d turns, statuses %v", s.openai.TurnCount(), turnStatuses(s.openai.Turns()))
		}},
		{cli: "codex", name: "error-offline", setup: func(t *testing.T, s *session) {
			codexSeeded(s, "")
			s.env["OPENAI_API_KEY"] = fakeOpenAIKey
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`for agents`, time.Minute)
			s.typeLine("Say hello")
			// It retries 5 times, then waits for the network for good.
			s.waitFor(`Connection failed`, 2*time.Minute)
			s.save("error-offline")
		}},
	}
}

// What the APIs answer an account out of credit or quota.
const (
	claudeCreditError = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
	codexQuotaError   = "You exceeded your current quota, please check your plan and billing details."
)

func turnStatuses(turns []fakemodel.Request) []int {
	var out []int
	for _, r := range turns {
		out = append(out, r.Status)
	}
	return out
}

// --- Gemini CLI ---

// geminiSeeded pre-seeds ~/.gemini past the folder trust question and the
// auth menu (API key auth; the key itself comes from GEMINI_API_KEY).
func geminiSeeded(s *session) {
	s.writeJSON(filepath.Join(s.home, ".gemini", "settings.json"), map[string]any{
		"security": map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
	})
	s.writeJSON(filepath.Join(s.home, ".gemini", "trustedFolders.json"), map[string]any{s.work: "TRUST_FOLDER"})
}

// geminiBadKeyServer stands in for the Gemini API: once gate is closed,
// it answers every request the way Google answers an invalid API key. It
// returns its URL.
func geminiBadKeyServer(t *testing.T, gate chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Logf("gemini fake: %s %s", r.Method, r.URL)
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",`+
			`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com",`+
			`"metadata":{"service":"generativelanguage.googleapis.com"}}]}}`)
	}))
	t.Cleanup(func() {
		closeGate(gate)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// logHomeFiles logs the files a CLI wrote into its home dir, to learn
// what to pre-seed.
func (s *session) logHomeFiles(sub string) {
	root := filepath.Join(s.home, sub)
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if len(b) > 2000 {
			b = append(b[:2000], "…"...)
		}
		s.t.Logf("%s:\n%s", path, b)
		return nil
	})
}

func geminiScenarios() []scenario {
	return []scenario{
		{cli: "gemini", name: "trust", run: func(t *testing.T, s *session) {
			s.waitFor(`Do you trust the files in this folder\?`, time.Minute)
			s.save("trust-question")
			s.send(keyEnter)
			s.waitFor(`How would you like to authenticate`, time.Minute)
			s.save("auth-menu")
		}},
		{cli: "gemini", name: "key", env: map[string]string{"GEMINI_API_KEY": fakeGeminiKey}, run: func(t *testing.T, s *session) {
			s.waitFor(`Do you trust the files in this folder\?`, time.Minute)
			s.send(keyEnter)
			s.waitFor(`Existing API key detected`, time.Minute)
			s.save("auth-menu-with-key")
			s.send(keyEnter)
			s.waitFor(`Enter Gemini API Key`, 30*time.Second)
			s.save("key-prompt")
			s.send(keyEnter)
			s.waitFor(`Type your message`, time.Minute)
			s.save("ready-after-key")
			// What to pre-seed: settings.json and trustedFolders.json, as
			// geminiSeeded writes them.
			s.logHomeFiles(".gemini")
		}},
		// A turn against the fake Gemini API, typed the moment the prompt
		// shows: Gemini CLI may still be starting then, and queues it.
		{cli: "gemini", name: "reply", env: map[string]string{"GEMINI_API_KEY": fakeGeminiKey}, setup: func(t *testing.T, s *session) {
			geminiSeeded(s)
			m := fakemodel.NewGemini()
			t.Cleanup(m.Close)
			s.env["GOOGLE_GEMINI_BASE_URL"] = m.URL()
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Type your message`, time.Minute)
			s.typeLine("Say hello")
			s.waitFor(`Queued \(press|esc to cancel|`+regexp.QuoteMeta(fakemodel.DefaultReply), 30*time.Second)
			if strings.Contains(s.screen(), "Queued (press") {
				s.saveNow("queued")
			}
			s.waitFor(regexp.QuoteMeta(fakemodel.DefaultReply), time.Minute)
			s.settle()
			s.save("reply")
		}},
		{cli: "gemini", name: "turn", env: map[string]string{"GEMINI_API_KEY": fakeGeminiKey}, setup: func(t *testing.T, s *session) {
			geminiSeeded(s)
			// Without network a turn spins on "Thinking..." for minutes.
			// Instead, answer it as Google does a fake key.
			s.gate = make(chan struct{})
			s.env["GOOGLE_GEMINI_BASE_URL"] = geminiBadKeyServer(t, s.gate)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Type your message`, time.Minute)
			s.save("ready")
			s.typeLine("Say hello")
			s.waitFor(`esc to cancel`, 30*time.Second)
			s.save("busy")
			closeGate(s.gate)
			s.waitFor(`API Error`, time.Minute)
			s.save("error-apikey")
		}},
		{cli: "gemini", name: "yolo", args: []string{"-y"}, env: map[string]string{"GEMINI_API_KEY": fakeGeminiKey}, setup: func(t *testing.T, s *session) {
			geminiSeeded(s)
		}, run: func(t *testing.T, s *session) {
			s.waitFor(`Type your message`, time.Minute)
			s.save("ready-yolo")
		}},
	}
}
