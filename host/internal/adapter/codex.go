package adapter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// Codex is the Codex CLI (@openai/codex).
type Codex struct{}

func (Codex) Type() string { return "codex" }

func (Codex) Launch(opts LaunchOptions) (Launch, error) {
	// Without --no-daemon, Codex starts a shared app-server that leaves
	// the agent's process group (so stopping the agent leaves it running),
	// and it takes 5-8 s instead of ~1 s to be ready.
	flags := []string{"--no-daemon"}
	if opts.Approval != "ask" {
		// --full-auto is gone since 0.169; this is its successor for
		// "never ask" (the agent's container is the sandbox).
		flags = append(flags, "--dangerously-bypass-approvals-and-sandbox")
	}
	env := map[string]string{}
	if opts.Home != "" {
		env["CODEX_HOME"] = filepath.Join(opts.Home, ".codex")
	}
	return cliLaunch(opts, "codex", flags, env), nil
}

// Preseed writes $CODEX_HOME/auth.json with the API key, so Codex skips
// its sign-in screen, and marks the workdir trusted in config.toml.
func (Codex) Preseed(opts LaunchOptions) error {
	if opts.SeedDir == "" {
		return nil
	}
	dir := filepath.Join(opts.SeedDir, ".codex")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if key := opts.Credentials.OpenAIKey; key != "" {
		b, err := json.Marshal(map[string]string{"OPENAI_API_KEY": key})
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "auth.json"), b, 0o600); err != nil {
			return err
		}
	}
	var toml strings.Builder
	if opts.Workdir != "" {
		fmt.Fprintf(&toml, "[projects.%q]\ntrust_level = \"trusted\"\n", opts.Workdir)
	}
	return os.WriteFile(filepath.Join(dir, "config.toml"), []byte(toml.String()), 0o600)
}

// codexRules are checked against testdata/codex; see its README for the
// screens.
var codexRules = []Rule{
	// The first screen, the "Sign in another way" submenu and the API key
	// form behind it.
	{Name: "codex: sign in", State: StateLoginRequired,
		Match: regexp.MustCompile(`Sign in with ChatGPT|Sign in another way|Use your own OpenAI API key`),
		Extract: func(s screen.Lines, d *Detection) {
			d.LoginURL = FirstURL(s)
			var ok bool
			if d.Question, d.Choices, d.Selected, ok = ParseMenu(s); !ok {
				d.Question = strings.TrimPrefix(RowMatching(s, regexp.MustCompile(`Use your own OpenAI API key`)), "> ")
			}
		}},
	// The live status cell of a turn that can't reach the API. It keeps
	// its "esc to interrupt" timer, so this comes before the busy rule;
	// only the live cell counts, as the conversation above may hold
	// earlier failures.
	{Name: "codex: connection failed", State: StateError,
		Match: regexp.MustCompile(`(?m)^[•◦] Reconnecting\.\.\..*esc to interrupt\)\s*\n\s*└ (Connection failed|Stream disconnected)`),
		Extract: func(s screen.Lines, d *Detection) {
			d.Message = strings.TrimPrefix(RowMatching(s, regexp.MustCompile(`└ (Connection failed|Stream disconnected)`)), "└ ")
		}},
	{Name: "codex: working", State: StateBusy,
		Match: regexp.MustCompile(`esc to interrupt`)},
	// A turn that failed at the API for a reason a retry won't fix (429
	// insufficient_quota): Codex prints "■ Quota exceeded. …" and is back
	// at its composer. It counts as an error only while it is the last
	// thing in the conversation; once another message is sent, it is
	// history and the rules around read the screen.
	{Name: "codex: api error", State: StateError,
		Match:   codexAPIError,
		Require: func(s screen.Lines) bool { return nothingSentAfter(codexAboveComposer(s), codexAPIError, codexEcho) },
		Extract: func(s screen.Lines, d *Detection) {
			d.Message = strings.TrimSpace(strings.TrimPrefix(lastRowMatching(s, codexAPIError), "■"))
		}},
	// The composer shows "? for shortcuts" ~0.4 s after spawn, but Codex
	// takes input only once the footer names the model ("<model> default ·
	// <dir>") above "← for agents · ? for shortcuts". It says so while busy
	// too, which the busy rule above catches first.
	{Name: "codex: composer", State: StateReady,
		Match: regexp.MustCompile(`(?m)^› .*\n(?:.*\n)*?\s+\S.* · .+\n\s*← for agents · \? for shortcuts`)},
}

var (
	// codexAPIError is Codex's error cell for an exhausted quota. Not
	// every "■ " line is an error: an interrupted turn gets one too.
	codexAPIError = regexp.MustCompile(`(?m)^■ Quota exceeded`)
	// codexEcho is a sent message, "› text" in the conversation.
	codexEcho = regexp.MustCompile(`^› \S`)
)

// codexAboveComposer is the screen above the composer (the last "›" row),
// so a draft, or the composer's placeholder, doesn't read as a sent
// message.
func codexAboveComposer(s screen.Lines) screen.Lines {
	for i := len(s) - 1; i >= 0; i-- {
		if strings.HasPrefix(s[i], "›") {
			return s[:i]
		}
	}
	return s
}

func (Codex) Detect(s screen.Lines) Detection { return Detect(codexRules, s) }

// ReadyRegion is the composer (the last "› " row) and the footer under
// it: above, Codex's welcome box and its reply may still be redrawn.
func (Codex) ReadyRegion(s screen.Lines) screen.Lines {
	for i := len(s) - 1; i >= 0; i-- {
		if strings.HasPrefix(s[i], "› ") {
			return s[i:]
		}
	}
	return nil
}

// codexChrome is what Codex draws between a reply and its composer: the
// turn's timing line, status lines, and a tip it may hang under a reply.
var codexChrome = regexp.MustCompile(`^(─ Worked for|Worked for|• Working|⏎ send|\d+% context left|Token usage|└ Tip: )`)

// Reply returns what Codex drew between the echoed input ("› sent") and
// its composer (the last "› " row; the footer is below it), without its
// chrome. Codex marks reply paragraphs with "• ".
func (Codex) Reply(before, after screen.Lines, sent string) string {
	probe := strings.TrimSpace(firstLine(sent))
	start, end := -1, len(after)
	for i, row := range after {
		if !strings.HasPrefix(row, "›") {
			continue
		}
		if probe != "" && strings.Contains(row, probe) {
			start = i
		}
		end = i
	}
	if start < 0 || end <= start {
		return ""
	}
	var out []string
	for _, row := range after[start+1 : end] {
		line := strings.TrimSpace(row)
		if codexChrome.MatchString(line) {
			continue
		}
		out = append(out, strings.TrimPrefix(line, "• "))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// codexBusyTitle: Codex titles itself with the workdir's name, with a
// braille spinner first while it works.
var codexBusyTitle = regexp.MustCompile(`^[\x{2800}-\x{28FF}] `)

func (Codex) BusyTitle(title string) bool { return codexBusyTitle.MatchString(title) }
