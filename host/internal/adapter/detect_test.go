package adapter_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/screen"
)

// recorded is what each recording in testdata must read as; see
// testdata/README.md for how each was made and what it shows.
type recorded struct {
	file  string // <cli>/<state>, without .raw
	state adapter.State
	rule  string
	// For questions and login menus: a part of the question, the choices
	// (nil: not checked) and the highlighted one.
	question string
	choices  []string
	selected int
	url      string
	message  string // a part of an error's message
}

var recordings = []recorded{
	{file: "claude/error-offline", state: adapter.StateError, rule: "claude: cannot reach the API", selected: -1,
		message: "Unable to connect to Anthropic services"},
	{file: "claude/bypass-root-refused", state: adapter.StateError, rule: "claude: bypass refused as root", selected: -1,
		message: "cannot be used with root/sudo privileges"},
	{file: "claude/apikey-question", state: adapter.StateQuestion, rule: "claude: menu question",
		question: "Do you want to use this API key?", choices: []string{"Yes", "No (recommended)"}, selected: 1},
	{file: "claude/bypass-question", state: adapter.StateQuestion, rule: "claude: bypass question",
		question: "running in Bypass Permissions mode", choices: []string{"No, exit", "Yes, I accept"}, selected: 0},
	{file: "claude/ready", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	{file: "claude/ready-bypass", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	{file: "claude/busy", state: adapter.StateBusy, rule: "claude: working", selected: -1},
	{file: "claude/reply", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	// 2.1.332: the footer shows the permission mode ("⏵⏵ auto mode on")
	// instead of "? for shortcuts", and an animated logo.
	{file: "claude/ready-2.1.332", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	{file: "claude/ready-bypass-2.1.332", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	{file: "claude/busy-2.1.332", state: adapter.StateBusy, rule: "claude: working", selected: -1},
	{file: "claude/reply-2.1.332", state: adapter.StateReady, rule: "claude: prompt", selected: -1},
	// 2.1.332's dialogs have no numbers, and "Not logged in · run /login"
	// moved above the box.
	{file: "claude/apikey-question-2.1.332", state: adapter.StateQuestion, rule: "claude: unnumbered menu question",
		question: "Do you want to use this API key?", choices: []string{"Yes", "No (recommended)"}, selected: 1},
	{file: "claude/bypass-question-2.1.332", state: adapter.StateQuestion, rule: "claude: bypass question",
		question: "running in Bypass Permissions mode", choices: []string{"No, exit", "Yes, I accept"}, selected: 0},
	{file: "claude/apikey-rejected-2.1.332", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · run /login", selected: -1, message: "Anthropic API key"},
	{file: "claude/not-logged-in-2.1.332", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · run /login", selected: -1, message: "run /login"},
	{file: "claude/not-logged-in-bypass-2.1.332", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · run /login", selected: -1, message: "run /login"},
	{file: "claude/not-logged-in-sent-2.1.332", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · run /login", selected: -1, message: "run /login"},
	{file: "claude/error-offline-2.1.332", state: adapter.StateError, rule: "claude: cannot reach the API", selected: -1,
		message: "Unable to connect to Anthropic services"},
	{file: "claude/error-credit-2.1.332", state: adapter.StateError, rule: "claude: api error", selected: -1,
		message: "Credit balance too low · Add funds: https://platform.claude.com/settings/billing"},
	{file: "claude/bypass-root-refused-2.1.332", state: adapter.StateError, rule: "claude: bypass refused as root", selected: -1,
		message: "cannot be used with root/sudo privileges"},
	// The prompt box is drawn, but the footer says "Not logged in · Run
	// /login": no key, the key question answered "No", or a message sent
	// anyway (answered "Not logged in · Please run /login").
	{file: "claude/not-logged-in", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · Run /login", selected: -1, message: "run /login"},
	{file: "claude/apikey-rejected", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · Run /login", selected: -1, message: "Anthropic API key"},
	// The turn failed at the API (out of credit) and Claude Code is back
	// at its prompt; see the rule.
	{file: "claude/error-credit", state: adapter.StateError, rule: "claude: api error", selected: -1,
		message: "Credit balance too low · Add funds: https://platform.claude.com/settings/billing"},
	{file: "claude/not-logged-in-sent", state: adapter.StateLoginRequired, rule: "claude: not logged in",
		question: "Not logged in · Run /login", selected: -1, message: "run /login"},

	// 0.171.0: the screens read as 0.169.0's; the title names the
	// turn's message ("⠦ Say hello | work").
	{file: "codex/ready-0.171.0", state: adapter.StateReady, rule: "codex: composer", selected: -1},
	{file: "codex/busy-0.171.0", state: adapter.StateBusy, rule: "codex: working", selected: -1},
	{file: "codex/reply-0.171.0", state: adapter.StateReady, rule: "codex: composer", selected: -1},
	{file: "codex/login", state: adapter.StateLoginRequired, rule: "codex: sign in",
		question: "Choose how you want to use Codex.", choices: []string{"Sign in with ChatGPT", "Sign in with Device Code", "Sign in another way"}, selected: 0},
	{file: "codex/login-other", state: adapter.StateLoginRequired, rule: "codex: sign in",
		question: "Sign in another way", choices: []string{"Use an OpenAI API key", "Use Amazon Bedrock"}, selected: 0},
	{file: "codex/apikey-prompt", state: adapter.StateLoginRequired, rule: "codex: sign in",
		question: "Use your own OpenAI API key", selected: -1},
	// The composer is drawn, but Codex isn't taking input yet.
	{file: "codex/starting", state: adapter.StateUnknown, selected: -1},
	{file: "codex/ready", state: adapter.StateReady, rule: "codex: composer", selected: -1},
	{file: "codex/busy", state: adapter.StateBusy, rule: "codex: working", selected: -1},
	{file: "codex/reply", state: adapter.StateReady, rule: "codex: composer", selected: -1},
	// 429 insufficient_quota: Codex shows it at once, no retries.
	{file: "codex/error-quota", state: adapter.StateError, rule: "codex: api error", selected: -1,
		message: "Quota exceeded. Check your plan and billing details."},
	{file: "codex/error-offline", state: adapter.StateError, rule: "codex: connection failed", selected: -1,
		message: "Connection failed: error sending request"},

	{file: "gemini/trust-question", state: adapter.StateQuestion, rule: "gemini: trust question",
		question: "Do you trust the files in this folder?", choices: []string{"Trust folder (work)", "Trust parent folder (001)", "Don't trust"}, selected: 0},
	{file: "gemini/auth-menu", state: adapter.StateLoginRequired, rule: "gemini: auth menu",
		question: "How would you like to authenticate for this project?", choices: []string{"Sign in with Google", "Use Gemini API Key", "Vertex AI"}, selected: 0},
	{file: "gemini/auth-menu-with-key", state: adapter.StateLoginRequired, rule: "gemini: auth menu",
		question: "How would you like to authenticate for this project?", choices: []string{"Sign in with Google", "Use Gemini API Key", "Vertex AI"}, selected: 1},
	{file: "gemini/key-prompt", state: adapter.StateLoginRequired, rule: "gemini: api key prompt",
		question: "Please enter your Gemini API key", selected: -1},
	{file: "gemini/ready-after-key", state: adapter.StateReady, rule: "gemini: prompt", selected: -1},
	{file: "gemini/ready", state: adapter.StateReady, rule: "gemini: prompt", selected: -1},
	{file: "gemini/ready-yolo", state: adapter.StateReady, rule: "gemini: prompt", selected: -1},
	{file: "gemini/busy", state: adapter.StateBusy, rule: "gemini: thinking", selected: -1},
	// A message typed while Gemini CLI still starts ("Initializing...
	// Prompts will be queued.") waits above the prompt: the turn goes on.
	{file: "gemini/queued", state: adapter.StateBusy, rule: "gemini: queued", selected: -1},
	{file: "gemini/reply", state: adapter.StateReady, rule: "gemini: prompt", selected: -1},
	// Gemini is back at its prompt, but the turn failed for a reason a
	// retry won't fix; see the rule.
	{file: "gemini/error-apikey", state: adapter.StateError, rule: "gemini: api error", selected: -1,
		message: "API key not valid. Please pass a valid API key."},

	{file: "aider/ready", state: adapter.StateReady, rule: "aider: prompt", selected: -1},
	{file: "aider/busy", state: adapter.StateBusy, rule: "aider: waiting for the model", selected: -1},
	{file: "aider/reply", state: adapter.StateReady, rule: "aider: prompt", selected: -1},
	{file: "aider/question", state: adapter.StateQuestion, rule: "aider: yes/no question",
		question: "Add file to the chat?", choices: []string{"Yes", "No", "Don't ask again"}, selected: -1},
	{file: "aider/error-auth", state: adapter.StateError, rule: "aider: api error", selected: -1,
		message: "litellm.AuthenticationError"},
}

// render plays a recording into the same screen model the host uses.
func render(t *testing.T, file string) screen.Lines {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file+".raw"))
	if err != nil {
		t.Fatal(err)
	}
	s := screen.New(120, 40)
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	return s.Lines()
}

func cliOf(file string) string { return strings.SplitN(file, "/", 2)[0] }

func detect(t *testing.T, file string) adapter.Detection {
	t.Helper()
	a, ok := adapter.For(cliOf(file))
	if !ok {
		t.Fatalf("no adapter for %s", file)
	}
	return a.Detect(render(t, file))
}

func TestDetectRecordings(t *testing.T) {
	for _, tt := range recordings {
		t.Run(tt.file, func(t *testing.T) {
			d := detect(t, tt.file)
			if d.State != tt.state || d.Rule != tt.rule {
				t.Fatalf("state %q by rule %q, want %q by %q", d.State, d.Rule, tt.state, tt.rule)
			}
			if !strings.Contains(d.Question, tt.question) {
				t.Errorf("question %q, want it to contain %q", d.Question, tt.question)
			}
			if tt.choices != nil && !slices.Equal(d.Choices, tt.choices) {
				t.Errorf("choices %q, want %q", d.Choices, tt.choices)
			}
			if d.Selected != tt.selected {
				t.Errorf("selected %d, want %d", d.Selected, tt.selected)
			}
			if d.LoginURL != tt.url {
				t.Errorf("login URL %q, want %q", d.LoginURL, tt.url)
			}
			if !strings.Contains(d.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", d.Message, tt.message)
			}
		})
	}
}

// TestEveryRecordingIsChecked keeps the table above in step with testdata.
func TestEveryRecordingIsChecked(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.raw")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "testdata/"), ".raw")
		if !slices.ContainsFunc(recordings, func(r recorded) bool { return r.file == name }) {
			t.Errorf("%s has no expected state in the recordings table", name)
		}
	}
}

// TestEveryRuleIsRecorded fails for a rule no recording matches: such a
// rule is a guess about a screen nobody has seen.
func TestEveryRuleIsRecorded(t *testing.T) {
	hit := map[string]bool{}
	for _, r := range recordings {
		hit[detect(t, r.file).Rule] = true
	}
	for cli, rules := range adapter.RuleTables {
		for _, r := range rules {
			if !hit[r.Name] {
				t.Errorf("%s: rule %q matches no recording", cli, r.Name)
			}
		}
	}
}

func TestReplyRecordings(t *testing.T) {
	tests := []struct {
		name, before, after, sent, want string
	}{
		{"claude", "claude/ready", "claude/reply", "Say hello", "Hello from the fake model."},
		{"claude 2.1.332", "claude/ready-2.1.332", "claude/reply-2.1.332", "Say hello", "Hello from the fake model."},
		{"codex", "codex/ready", "codex/reply", "Say hello", "Hello from the fake model."},
		{"codex 0.171.0", "codex/ready-0.171.0", "codex/reply-0.171.0", "Say hello", "Hello from the fake model."},
		{"gemini", "gemini/ready", "gemini/reply", "Say hello", "Hello from the fake model."},
		// Hand-written before the fake model existed, so it says
		// something else.
		{"aider", "aider/ready", "aider/reply", "Say hello", "Hello! How can I help you with your code today?"},
		// No reply: the answer is a "⎿" line, and the footer's
		// "● high · /effort" on a row of its own is no reply block.
		{"claude not logged in", "claude/not-logged-in", "claude/not-logged-in-sent", "Say hello", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := adapter.For(cliOf(tt.before))
			before, after := render(t, tt.before), render(t, tt.after)
			if got := a.Reply(before, after, tt.sent); got != tt.want {
				t.Errorf("Reply = %q, want %q", got, tt.want)
			}
		})
	}
}

// A failed turn is history once the next message is sent: the screen then
// reads as that turn's, not as the old error.
func TestOldErrorsAreHistory(t *testing.T) {
	for _, tt := range []struct {
		file, next string
		// above is how many rows above the last non-empty one the CLI
		// prints an echo: above its input box and the box's status rows.
		above int
		want  adapter.State
	}{
		{"gemini/error-apikey", " > Say hello again", 6, adapter.StateReady},
		{"aider/error-auth", "> Say hello again", 0, adapter.StateReady},
		{"claude/error-credit", "❯ Say hello again", 3, adapter.StateReady},
		{"codex/error-quota", "› Say hello again", 3, adapter.StateReady},
	} {
		s := render(t, tt.file)
		last := len(s) - 1
		for last > 0 && strings.TrimSpace(s[last]) == "" {
			last--
		}
		last -= tt.above
		withEcho := append(append(append(screen.Lines{}, s[:last]...), tt.next), s[last:]...)
		a, _ := adapter.For(cliOf(tt.file))
		if d := a.Detect(withEcho); d.State != tt.want {
			t.Errorf("%s with %q sent after: %q by %q, want %q", tt.file, tt.next, d.State, d.Rule, tt.want)
		}
	}
}

// Text typed into the input box but not sent doesn't make a failed turn
// history.
func TestDraftKeepsError(t *testing.T) {
	for _, tt := range []struct{ file, box, draft string }{
		{"claude/error-credit", "❯", "❯ Say hello again"},
		{"codex/error-quota", "› Ask Codex to do anything", "› Say hello again"},
	} {
		s := append(screen.Lines{}, render(t, tt.file)...)
		found := false
		for i := len(s) - 1; i >= 0; i-- {
			if strings.TrimSpace(strings.ReplaceAll(s[i], "\u00a0", " ")) == tt.box {
				s[i], found = tt.draft, true
				break
			}
		}
		if !found {
			t.Fatalf("%s: no %q row", tt.file, tt.box)
		}
		a, _ := adapter.For(cliOf(tt.file))
		if d := a.Detect(s); d.State != adapter.StateError {
			t.Errorf("%s with a draft in the box: %q by %q, want error", tt.file, d.State, d.Rule)
		}
	}
}

// TestClaudeReadyRegion: the region is the prompt box and the footer under
// it, never the logo, on both versions' ready screens.
func TestCodexReadyRegion(t *testing.T) {
	for _, file := range []string{"codex/ready", "codex/ready-0.171.0", "codex/reply-0.171.0"} {
		t.Run(file, func(t *testing.T) {
			region := adapter.Codex{}.ReadyRegion(render(t, file))
			text := region.Text()
			if len(region) < 2 || !strings.HasPrefix(region[0], "› ") || !strings.Contains(text, "? for shortcuts") {
				t.Fatalf("region:\n%s\nwant the composer and its footer", text)
			}
			if strings.Contains(text, "Hello from the fake model") || strings.Contains(text, "OpenAI Codex") {
				t.Errorf("region holds more than the composer:\n%s", text)
			}
		})
	}
	if r := (adapter.Codex{}).ReadyRegion(render(t, "codex/login")); r != nil {
		t.Errorf("the login screen has a ready region: %q", r)
	}
}

func TestClaudeReadyRegion(t *testing.T) {
	for _, file := range []string{"claude/ready", "claude/ready-2.1.332", "claude/ready-bypass-2.1.332"} {
		t.Run(file, func(t *testing.T) {
			region := adapter.Claude{}.ReadyRegion(render(t, file))
			text := region.Text()
			if len(region) < 3 || !strings.HasPrefix(region[0], "────") || !strings.HasPrefix(region[1], "❯") {
				t.Fatalf("region:\n%s\nwant the prompt box first", text)
			}
			if strings.Contains(text, "Claude Code v") || strings.Contains(text, "▐") {
				t.Errorf("region holds the logo:\n%s", text)
			}
			if !strings.Contains(text, "for shortcuts") && !strings.Contains(text, " on (shift+tab") {
				t.Errorf("region lacks the footer:\n%s", text)
			}
		})
	}
	if r := (adapter.Claude{}).ReadyRegion(render(t, "claude/apikey-question")); r != nil {
		t.Errorf("a question screen has a ready region: %q", r)
	}
}

// TestBusyTitles: each CLI's recordings of a turn set a busy title, and
// those of a CLI at rest end on a title that is not (Codex spins in its
// title while it starts too).
func TestBusyTitles(t *testing.T) {
	tests := []struct {
		file string
		busy bool
	}{
		{"claude/ready", false},
		{"claude/busy", true},
		{"claude/ready-2.1.332", false},
		{"claude/busy-2.1.332", true},
		{"codex/ready", false},
		{"codex/busy", true},
		// A turn over, the title is at rest again: a busy title holds
		// the turn's end back (session), so this must hold for every
		// Titled CLI. Gemini CLI's title shows "✦  Working…" too, but no
		// recording shows it back at rest after a reply (there is no
		// fake Gemini API yet), so its adapter reads no titles.
		{"claude/reply", false},
		{"claude/reply-2.1.332", false},
		{"codex/reply", false},
		{"codex/ready-0.171.0", false},
		{"codex/busy-0.171.0", true},
		{"codex/reply-0.171.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file+".raw"))
			if err != nil {
				t.Fatal(err)
			}
			s := screen.New(120, 40)
			_, _ = s.Write(b)
			a, _ := adapter.For(cliOf(tt.file))
			titled, ok := a.(adapter.Titled)
			if !ok {
				t.Fatalf("%s reads no titles", cliOf(tt.file))
			}
			titles := s.TitlesSince(0)
			if len(titles) == 0 {
				t.Fatal("the recording sets no title")
			}
			if tt.busy && !slices.ContainsFunc(titles, titled.BusyTitle) {
				t.Errorf("no busy title among %q", titles)
			}
			if !tt.busy && titled.BusyTitle(titles[len(titles)-1]) {
				t.Errorf("the title at rest %q reads as busy", titles[len(titles)-1])
			}
		})
	}
}

// TestClaudeUnnumberedMenu: a dialog's choices are the rows right above
// its footer, one of them highlighted, all at one indent.
func TestClaudeUnnumberedMenu(t *testing.T) {
	const footer = "  Enter to confirm · Esc to cancel"
	tests := []struct {
		name     string
		screen   []string
		state    adapter.State
		choices  []string
		selected int
	}{
		{"a dialog", []string{"  Pick one?", "", "  ❯ Alpha", "    Beta", "", footer}, adapter.StateQuestion, []string{"Alpha", "Beta"}, 0},
		{"the second highlighted", []string{"  Pick one?", "", "    Alpha", "  ❯ Beta", "", footer}, adapter.StateQuestion, []string{"Alpha", "Beta"}, 1},
		{"nothing highlighted", []string{"  Pick one?", "", "    Alpha", "    Beta", "", footer}, adapter.StateUnknown, nil, -1},
		{"a paragraph, not choices", []string{"  ❯ Alpha", "  some text", "      more", "", footer}, adapter.StateUnknown, nil, -1},
		{"no footer: an echoed message", []string{"❯ Alpha", "  Beta"}, adapter.StateUnknown, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := adapter.Claude{}.Detect(screen.Lines(tt.screen))
			if d.State != tt.state || !slices.Equal(d.Choices, tt.choices) || d.Selected != tt.selected {
				t.Errorf("%s %q selected %d, want %s %q selected %d", d.State, d.Choices, d.Selected, tt.state, tt.choices, tt.selected)
			}
		})
	}
}

// TestClaudeWithoutALogin: started in a pre-seeded home with no key,
// Claude Code's prompt is ready only once the CLI has said where it
// stands: 2.1.332 draws its prompt, then a start-up hint that hides "Not
// logged in" for 10 s. With a login of any kind, or in a home of the
// user's own, its prompt is ready at once.
func TestClaudeWithoutALogin(t *testing.T) {
	seeded := adapter.LaunchOptions{SeedDir: t.TempDir()}
	withKey := seeded
	withKey.Credentials.AnthropicKey = "sk-ant-test"
	withToken := seeded
	withToken.Env = map[string]string{"ANTHROPIC_AUTH_TOKEN": "tok"}
	file := func(name string) func(*testing.T) screen.Lines {
		return func(t *testing.T) screen.Lines { return render(t, name) }
	}
	// The prompt as the CLI first draws it, before its hint, or 10 s on.
	noHint := func(name string) func(*testing.T) screen.Lines {
		return func(t *testing.T) screen.Lines {
			s := render(t, name)
			for i, row := range s {
				s[i] = strings.Replace(row, " · ← for agents", "", 1)
			}
			return s
		}
	}
	type step struct {
		screen func(*testing.T) screen.Lines
		want   adapter.State
		// held: ready only once the screen is still a while.
		held bool
	}
	tests := []struct {
		name  string
		opts  adapter.LaunchOptions
		steps []step
	}{
		{"no login, 2.1.332", seeded, []step{
			{noHint("claude/ready-bypass-2.1.332"), adapter.StateReady, true},
			{file("claude/ready-bypass-2.1.332"), adapter.StateUnknown, false},
			{file("claude/not-logged-in-2.1.332"), adapter.StateLoginRequired, false},
		}},
		{"no login, auto mode 2.1.332", seeded, []step{
			{file("claude/ready-2.1.332"), adapter.StateUnknown, false},
		}},
		{"no login, then /login in the terminal, 2.1.197", seeded, []step{
			{file("claude/not-logged-in"), adapter.StateLoginRequired, false},
			{file("claude/ready-bypass"), adapter.StateUnknown, false},
			{noHint("claude/ready-bypass"), adapter.StateReady, false},
		}},
		{"no login, the hint gone", seeded, []step{
			{file("claude/ready-bypass-2.1.332"), adapter.StateUnknown, false},
			{noHint("claude/ready-bypass-2.1.332"), adapter.StateReady, false},
		}},
		{"a key given", withKey, []step{{noHint("claude/ready-bypass-2.1.332"), adapter.StateReady, false}}},
		{"a token in the env", withToken, []step{{file("claude/ready-bypass-2.1.332"), adapter.StateReady, false}}},
		{"the user's own home", adapter.LaunchOptions{}, []step{{noHint("claude/ready-bypass-2.1.332"), adapter.StateReady, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := adapter.Claude{}.ForLaunch(tt.opts)
			for i, st := range tt.steps {
				if got := a.Detect(st.screen(t)); got.State != st.want || (got.Still > 0) != st.held {
					t.Errorf("step %d: %s (rule %q) held %s, want %s held %v", i+1, got.State, got.Rule, got.Still, st.want, st.held)
				}
			}
		})
	}
}

// TestCodexTipIsNoReply: Codex 0.171.0 may hang a tip under a reply
// ("└ Tip: Use /keymap …", seen in the real-CLI rounds); it is chrome.
func TestCodexTipIsNoReply(t *testing.T) {
	after := render(t, "codex/reply-0.171.0")
	var withTip screen.Lines
	for _, row := range after {
		withTip = append(withTip, row)
		if strings.Contains(row, "• Hello from the fake model.") {
			withTip = append(withTip, "  └ Tip: Use /keymap to configure keyboard shortcuts.")
		}
	}
	if len(withTip) == len(after) {
		t.Fatal("the recording has no reply row to hang a tip under")
	}
	if got := (adapter.Codex{}).Reply(render(t, "codex/ready-0.171.0"), withTip, "Say hello"); got != "Hello from the fake model." {
		t.Errorf("Reply = %q", got)
	}
}
