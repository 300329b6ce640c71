package adapter

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Claude is Claude Code (@anthropic-ai/claude-code).
type Claude struct{}

func (Claude) Type() string { return "claude" }

func (Claude) Launch(opts LaunchOptions) (Launch, error) {
	argv := []string{"claude"}
	if len(opts.Command) > 0 {
		argv = append([]string{}, opts.Command...)
	}
	if opts.Approval != "ask" {
		argv = append(argv, "--dangerously-skip-permissions")
	}
	argv = append(argv, opts.ExtraArgs...)
	env := credentialEnv(opts.Credentials)
	// Telemetry and update checks only slow an agent down and fail
	// offline; a user can turn them back on through env.
	env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
	if opts.Home != "" {
		env["HOME"] = opts.Home
	}
	maps.Copy(env, opts.Env)
	return Launch{Argv: argv, Env: env}, nil
}

// Preseed writes $HOME/.claude.json so Claude Code skips its onboarding,
// trusts the workdir and, with an API key, doesn't ask whether to use it.
func (Claude) Preseed(opts LaunchOptions) error {
	if opts.Home == "" {
		return nil
	}
	state := map[string]any{
		"hasCompletedOnboarding":        true,
		"bypassPermissionsModeAccepted": true,
	}
	if opts.Workdir != "" {
		state["projects"] = map[string]any{
			opts.Workdir: map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true},
		}
	}
	if key := opts.Credentials.AnthropicKey; key != "" {
		// Claude Code remembers an approved key by its last 20 characters.
		state["customApiKeyResponses"] = map[string]any{"approved": []string{key[max(0, len(key)-20):]}, "rejected": []string{}}
	}
	b, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(opts.Home, ".claude.json"), b, 0o600)
}

var claudeRules = []Rule{
	{Name: "claude: cannot reach the API", State: StateError,
		Match:   regexp.MustCompile(`Unable to connect to Anthropic services|Failed to connect to api\.anthropic\.com|Credit balance is too low|Invalid API key|API Error: 401`),
		Extract: func(s Screen, d *Detection) { d.Message = claudeErrorText(s) }},
	{Name: "claude: login", State: StateLoginRequired,
		Match:   regexp.MustCompile(`Select login method|Paste code here|Browser didn't open|Not logged in · Run /login`),
		Extract: func(s Screen, d *Detection) { d.LoginURL = FirstURL(s) }},
	{Name: "claude: menu question", State: StateQuestion,
		Match:   regexp.MustCompile(`(?m)^\s*[│ ]*❯ ?\d+\. `),
		Extract: menuExtract},
	{Name: "claude: working", State: StateBusy,
		Match: regexp.MustCompile(`esc to interrupt`)},
	{Name: "claude: prompt", State: StateReady,
		Match: regexp.MustCompile(`(?m)^─{10,}\s*\n\s*❯.*\n─{10,}`)},
}

func menuExtract(s Screen, d *Detection) {
	d.Question, d.Choices, d.Selected, _ = ParseMenu(s)
}

var claudeErrorLine = regexp.MustCompile(`Unable to connect|Failed to connect|Credit balance|Invalid API key|API Error`)

func claudeErrorText(s Screen) string {
	var parts []string
	for _, row := range s {
		if claudeErrorLine.MatchString(row) {
			parts = append(parts, unbox(row))
		}
	}
	return strings.Join(parts, " ")
}

func (Claude) Detect(s Screen) Detection { return Detect(claudeRules, s) }

// claudeChrome is what Claude Code draws around a reply: the turn's timing
// line, tool-use lines, the prompt box and its footer.
var claudeChrome = regexp.MustCompile(`^(✻ |─{10,}|❯|\? for shortcuts|⏵⏵ |⎿ )`)

// Reply returns the text of the "● …" blocks drawn after the echoed input:
// Claude Code marks each block of its reply with a bullet and indents the
// block's further lines.
func (Claude) Reply(before, after Screen, sent string) string {
	probe := strings.TrimSpace(firstLine(sent))
	start := 0
	for i, row := range after {
		if probe != "" && strings.Contains(row, probe) && strings.HasPrefix(strings.TrimSpace(row), ">") {
			start = i + 1
		}
	}
	var out []string
	in := false
	for _, row := range after[start:] {
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
