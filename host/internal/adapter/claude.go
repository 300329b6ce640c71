package adapter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parallax/parallax/host/internal/screen"
)

// Claude is Claude Code (@anthropic-ai/claude-code).
type Claude struct{}

func (Claude) Type() string { return "claude" }

func (Claude) Launch(opts LaunchOptions) (Launch, error) {
	var flags []string
	// Telemetry and update checks only slow an agent down and fail
	// offline; a user can turn them back on through env.
	env := map[string]string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		// 2.1.332 picks its full-screen renderer on a fresh home: an
		// alternate screen with no scrollback, where a reply taller than
		// the screen can't be read back. The classic one scrolls as a
		// terminal does.
		"CLAUDE_CODE_DISABLE_ALTERNATE_SCREEN": "1",
	}
	if opts.Approval != "ask" {
		flags = append(flags, "--dangerously-skip-permissions")
		if os.Geteuid() == 0 {
			// As root, Claude Code refuses --dangerously-skip-permissions
			// and exits 1 unless IS_SANDBOX=1 says it runs in a sandbox.
			// Hosts usually run as root only in a container, and the user
			// asked for autonomous approval; without this it could never
			// start there.
			env["IS_SANDBOX"] = "1"
		}
	}
	return cliLaunch(opts, "claude", flags, env), nil
}

// Preseed writes $HOME/.claude.json so Claude Code skips its onboarding,
// trusts the workdir and, with an API key, doesn't ask whether to use it;
// when it will run with --dangerously-skip-permissions, it also accepts
// the bypass-mode warning in $HOME/.claude/settings.json.
func (Claude) Preseed(opts LaunchOptions) error {
	if opts.SeedDir == "" {
		return nil
	}
	state := map[string]any{"hasCompletedOnboarding": true}
	if opts.Workdir != "" {
		state["projects"] = map[string]any{
			opts.Workdir: map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true},
		}
	}
	if key := opts.Credentials.AnthropicKey; key != "" {
		// Claude Code remembers an approved key by its last 20 characters.
		state["customApiKeyResponses"] = map[string]any{"approved": []string{key[max(0, len(key)-20):]}, "rejected": []string{}}
	}
	if err := writeJSON(filepath.Join(opts.SeedDir, ".claude.json"), state); err != nil {
		return err
	}
	if opts.Approval == "ask" {
		return nil
	}
	dir := filepath.Join(opts.SeedDir, ".claude")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// What answering "Yes, I accept" writes; kept alongside any settings
	// already there, since a restarted agent is pre-seeded again.
	path := filepath.Join(dir, "settings.json")
	settings := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &settings)
	}
	settings["skipDangerousModePermissionPrompt"] = true
	return writeJSON(path, settings)
}

// claudeRules are checked against testdata/claude; see its README for the
// screens. The first two error screens are start-up failures after which
// Claude Code exits; a turn that fails at the API is printed into the
// conversation and counts only while nothing was sent after it (see "claude:
// api error").
var claudeRules = []Rule{
	{Name: "claude: cannot reach the API", State: StateError,
		Match:   regexp.MustCompile(`Unable to connect to Anthropic services`),
		Extract: func(s screen.Lines, d *Detection) { d.Message = claudeErrorText(s) }},
	{Name: "claude: bypass refused as root", State: StateError,
		Match: regexp.MustCompile(`--dangerously-skip-permissions cannot be used with root`),
		Extract: func(s screen.Lines, d *Detection) {
			d.Message = RowMatching(s, regexp.MustCompile(`cannot be used with root`))
		}},
	// The warning's own menu sits under a paragraph and a link, so the
	// question is its heading, not the text right above the menu.
	{Name: "claude: bypass question", State: StateQuestion,
		Match: regexp.MustCompile(`running in Bypass Permissions mode`),
		Extract: func(s screen.Lines, d *Detection) {
			menuExtract(s, d)
			if len(d.Choices) == 0 {
				_, d.Choices, d.Selected, _ = claudeUnnumberedMenu(s)
			}
			d.Question = RowMatching(s, regexp.MustCompile(`running in Bypass Permissions mode`))
		}},
	// The API key question, and any other numbered choice (tool
	// permissions) Claude Code draws with its "Esc to cancel" footer; the
	// footer keeps an echoed "❯ 1. …" message from reading as a menu.
	{Name: "claude: menu question", State: StateQuestion,
		Match:   regexp.MustCompile(`(?s)(?m:^\s*❯ \d+\. ).*Esc to cancel`),
		Extract: menuExtract},
	// 2.1.332 draws the same dialogs without numbers: the choices are
	// the rows right above the footer, the highlighted one marked "❯".
	{Name: "claude: unnumbered menu question", State: StateQuestion,
		Match:   claudeDialogFooter,
		Require: func(s screen.Lines) bool { _, _, _, ok := claudeUnnumberedMenu(s); return ok },
		Extract: func(s screen.Lines, d *Detection) {
			d.Question, d.Choices, d.Selected, _ = claudeUnnumberedMenu(s)
		}},
	{Name: "claude: working", State: StateBusy,
		Match: regexp.MustCompile(`esc to interrupt`)},
	// No usable key (none at all, or the user answered "No" to the API
	// key question): the prompt box is drawn, but its footer says so and
	// every message is answered "Not logged in · Please run /login". Only
	// the footer counts; that answer stays in the conversation after a
	// login.
	{Name: "claude: not logged in", State: StateLoginRequired,
		Match: claudeNotLoggedIn,
		Extract: func(s screen.Lines, d *Detection) {
			d.Question = claudeNotLoggedInText.FindString(s.Text())
			d.Message = "Claude Code has no usable API key: run /login in the agent's terminal, or give the agent an Anthropic API key"
		}},
	// A turn that failed at the API for a reason a retry won't fix (the
	// account is out of credit): Claude Code answers the message with a
	// "⎿ " line and is back at its prompt. It counts as an error only
	// while it is the last thing in the conversation; once another
	// message is sent, it is history and the rules around read the screen.
	{Name: "claude: api error", State: StateError,
		Match:   claudeAPIError,
		Require: func(s screen.Lines) bool { return nothingSentAfter(claudeAboveBox(s), claudeAPIError, claudeEcho) },
		Extract: func(s screen.Lines, d *Detection) {
			d.Message = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lastRowMatching(s, claudeAPIError)), "⎿"))
		}},
	// The input box, whatever its footer says: "? for shortcuts", or in
	// bypass mode "⏵⏵ bypass permissions on".
	{Name: "claude: prompt", State: StateReady,
		Match: regexp.MustCompile(`(?m)^─{10,}\s*\n\s*❯.*\n─{10,}`)},
}

// claudeNotLoggedIn is the footer under the prompt box's bottom rule (the
// row right below a rule) saying there is no key: "Run" in 2.1.197, "run"
// at the row's right end in 2.1.332.
var (
	claudeNotLoggedIn     = regexp.MustCompile(`(?m)^─{10,}\n.*Not logged in · [Rr]un /login`)
	claudeNotLoggedInText = regexp.MustCompile(`Not logged in · [Rr]un /login`)
)

// claudeDialogFooter ends every dialog with choices.
var claudeDialogFooter = regexp.MustCompile(`(?m)^\s*Enter to confirm · Esc to cancel\s*$`)

// claudeUnnumberedMenu reads a dialog of 2.1.332: the rows above its
// footer, up to a blank row, each "❯ " (highlighted) or as far indented,
// are the choices; the rows above them the question.
func claudeUnnumberedMenu(s screen.Lines) (question string, choices []string, selected int, ok bool) {
	footer := -1
	for i := len(s) - 1; i >= 0; i-- {
		if claudeDialogFooter.MatchString(s[i]) {
			footer = i
			break
		}
	}
	end := footer - 1
	for end >= 0 && strings.TrimSpace(s[end]) == "" {
		end--
	}
	start := end
	for start >= 0 && strings.TrimSpace(s[start]) != "" {
		start--
	}
	start++
	if footer < 0 || end-start < 1 {
		return "", nil, -1, false
	}
	selected = -1
	indent := -1
	for i, row := range s[start : end+1] {
		text := strings.TrimLeft(row, " ")
		at := len([]rune(row)) - len([]rune(text))
		if rest, marked := strings.CutPrefix(text, "❯ "); marked {
			text, at = rest, at+2
			selected = i
		}
		if indent >= 0 && at != indent || strings.TrimSpace(text) == "" {
			return "", nil, -1, false
		}
		indent = at
		choices = append(choices, strings.TrimSpace(text))
	}
	if selected < 0 {
		return "", nil, -1, false
	}
	return questionAbove(s, start), choices, selected, true
}

var (
	// claudeAPIError is a turn's answer saying the API refused it for
	// good, e.g. "⎿  Credit balance too low · Add funds: <billing URL>";
	// the second space after "⎿" is a no-break space.
	claudeAPIError = regexp.MustCompile(`(?m)^\s*⎿[\s\x{a0}]+Credit balance too low`)
	// claudeEcho is a sent message, "❯ text" in the conversation.
	claudeEcho = regexp.MustCompile(`^❯ \S`)
)

// claudeAboveBox is the screen above the prompt box (its top rule, the
// rule right above the last "❯" row), so a draft typed into the box
// doesn't read as a sent message.
func claudeAboveBox(s screen.Lines) screen.Lines {
	if i := claudeBoxTop(s); i >= 0 {
		return s[:i]
	}
	return s
}

// claudeBoxTop is the row of the prompt box's top rule, or -1.
func claudeBoxTop(s screen.Lines) int {
	for i := len(s) - 2; i >= 0; i-- {
		if claudeRule.MatchString(s[i]) && strings.HasPrefix(s[i+1], "❯") {
			return i
		}
	}
	return -1
}

// ReadyRegion is the prompt box and the footer under it: Claude Code
// 2.1.332 animates its logo for a second and more after the box is up.
func (Claude) ReadyRegion(s screen.Lines) screen.Lines {
	if i := claudeBoxTop(s); i >= 0 {
		return s[i:]
	}
	return nil
}

// lastRowMatching is the last row matching re, or "".
func lastRowMatching(s screen.Lines, re *regexp.Regexp) string {
	for i := len(s) - 1; i >= 0; i-- {
		if re.MatchString(s[i]) {
			return s[i]
		}
	}
	return ""
}

func menuExtract(s screen.Lines, d *Detection) {
	d.Question, d.Choices, d.Selected, _ = ParseMenu(s)
}

var claudeErrorLine = regexp.MustCompile(`Unable to connect|Failed to connect`)

func claudeErrorText(s screen.Lines) string {
	var parts []string
	for _, row := range s {
		if claudeErrorLine.MatchString(row) {
			parts = append(parts, unbox(row))
		}
	}
	return strings.Join(parts, " ")
}

func (Claude) Detect(s screen.Lines) Detection { return Detect(claudeRules, s) }

var claudeRule = regexp.MustCompile(`^─{10,}\s*$`)

// claudeChrome is what Claude Code draws around a reply: the turn's timing
// line, tool-use lines, the prompt box and the rows of its footer ("? for
// shortcuts", "⏵⏵ bypass permissions on", "esc to interrupt", "Not logged
// in · Run /login", and on a row of its own "● high · /effort", which
// looks like a reply block).
var claudeChrome = regexp.MustCompile(`^(✻ |─{10,}|❯|\? for shortcuts|⏵⏵ |⎿ |esc to interrupt|Not logged in · |● \S+ · /effort)|· ← for agents|· /effort$`)

// Reply returns the text of the "● …" blocks drawn after the echoed input
// and above the prompt box: Claude Code marks each block of its reply with
// a bullet and indents the block's further lines. after may be taller than
// the screen, with the lines that scrolled off during the turn on top.
func (Claude) Reply(before, after screen.Lines, sent string) string {
	probe := strings.TrimSpace(firstLine(sent))
	start := 0
	for i, row := range after {
		if probe != "" && strings.Contains(row, probe) && strings.HasPrefix(strings.TrimSpace(row), "❯") {
			start = i + 1
		}
	}
	// The prompt box is the last "❯" row between two rules; nothing from
	// its top rule down (the box and its footer) is reply.
	end := len(after)
	for i := len(after) - 1; i > start; i-- {
		if claudeRule.MatchString(after[i]) && i+1 < len(after) && strings.HasPrefix(after[i+1], "❯") {
			end = i
			break
		}
	}
	var out []string
	in := false
	for _, row := range after[start:end] {
		trimmed := strings.TrimSpace(row)
		switch {
		case claudeChrome.MatchString(trimmed):
			in = false
		case strings.HasPrefix(trimmed, "● "):
			in = true
			out = append(out, strings.TrimPrefix(trimmed, "● "))
		case in && (trimmed == "" || strings.HasPrefix(row, "  ")):
			out = append(out, trimmed)
		default:
			in = false
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// claudeLoginEnv are the env vars that give Claude Code a login of some
// kind: a key, a token, or a cloud provider's own credentials.
var claudeLoginEnv = []string{
	"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
	"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY",
}

// ForLaunch: a pre-seeded home holds no login, so with no key given and
// none in the env the CLI will say "Not logged in". A home of the user's
// own may hold one, and is read as is.
func (c Claude) ForLaunch(opts LaunchOptions) Adapter {
	if opts.SeedDir == "" || opts.Credentials.AnthropicKey != "" {
		return c
	}
	for _, k := range claudeLoginEnv {
		if opts.Env[k] != "" {
			return c
		}
	}
	return claudeNoLogin{Claude: c, told: new(atomic.Bool)}
}

// claudeStartHint is a hint Claude Code shows in its footer for its
// first 10 s. In 2.1.332's full-screen renderer it hides "Not logged in"
// until it goes.
var claudeStartHint = regexp.MustCompile(`(^|· )← for agents`)

// claudeNoLogin reads a Claude Code started with no login. 2.1.332 draws
// its prompt a second before "Not logged in" (10 s before, full-screen),
// so its prompt is ready at once only when the CLI has said where it
// stands: once the start-up hint, drawn after the prompt, has come and
// gone, or once a login notice went away (a /login in the terminal). Before
// any word, it counts only after the screen was still for claudeUntold.
type claudeNoLogin struct {
	Claude
	// told is set once the hint or a login notice was seen; Detect runs
	// on the session's goroutines.
	told *atomic.Bool
}

func (c claudeNoLogin) Detect(s screen.Lines) Detection {
	d := c.Claude.Detect(s)
	hint := lastRowMatching(c.ReadyRegion(s), claudeStartHint) != ""
	if hint || d.State == StateLoginRequired {
		c.told.Store(true)
	}
	switch {
	case d.State != StateReady:
	case hint:
		return Detection{Selected: -1}
	case !c.told.Load():
		// Not a word yet: a CLI that shows neither (an older or newer
		// release, a wrapper) is ready once it has been still a while.
		d.Still = claudeUntold
	}
	return d
}

// claudeUntold is how long a Claude Code with no login that has said
// nothing about it must be still before its prompt counts: 2.1.332 says
// it about a second after the prompt is up.
const claudeUntold = 3 * time.Second

// claudeBusyTitle: Claude Code titles itself "✳ Claude Code" at rest and
// puts a spinner glyph first while it works (braille dots in 2.1.197,
// half circles in 2.1.332).
var claudeBusyTitle = regexp.MustCompile(`^[\x{2800}-\x{28FF}◐◑◒◓] Claude Code`)

func (Claude) BusyTitle(title string) bool { return claudeBusyTitle.MatchString(title) }
