package adapter

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Codex is the Codex CLI (@openai/codex).
type Codex struct{}

func (Codex) Type() string { return "codex" }

func (Codex) Launch(opts LaunchOptions) (Launch, error) {
	argv := []string{"codex"}
	if len(opts.Command) > 0 {
		argv = append([]string{}, opts.Command...)
	}
	if opts.Approval != "ask" {
		argv = append(argv, "--full-auto")
	}
	argv = append(argv, opts.ExtraArgs...)
	env := credentialEnv(opts.Credentials)
	if opts.Home != "" {
		env["HOME"] = opts.Home
		env["CODEX_HOME"] = filepath.Join(opts.Home, ".codex")
	}
	maps.Copy(env, opts.Env)
	return Launch{Argv: argv, Env: env}, nil
}

// Preseed writes $CODEX_HOME/auth.json with the API key, so Codex skips
// its sign-in screen, and marks the workdir trusted in config.toml.
func (Codex) Preseed(opts LaunchOptions) error {
	if opts.Home == "" {
		return nil
	}
	dir := filepath.Join(opts.Home, ".codex")
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

var codexRules = []Rule{
	{Name: "codex: sign in", State: StateLoginRequired,
		Match: regexp.MustCompile(`Sign in with ChatGPT|Sign in with Device Code|Provide your own API key`),
		Extract: func(s Screen, d *Detection) {
			d.LoginURL = FirstURL(s)
			d.Question, d.Choices, d.Selected, _ = ParseMenu(s)
		}},
	{Name: "codex: connection failed", State: StateError,
		Match: regexp.MustCompile(`(?m)^\s*■?\s*(Connection failed|stream error|unexpected status 401|exceeded retry limit)`),
		Extract: func(s Screen, d *Detection) {
			d.Message = RowMatching(s, regexp.MustCompile(`Connection failed|stream error|unexpected status|exceeded retry`))
		}},
	{Name: "codex: menu question", State: StateQuestion,
		Match:   regexp.MustCompile(`(?m)^\s*[│ ]*› ?\d+\. `),
		Extract: menuExtract},
	{Name: "codex: working", State: StateBusy,
		Match: regexp.MustCompile(`esc to interrupt|Reconnecting\.\.\.`)},
	{Name: "codex: composer", State: StateReady,
		Match: regexp.MustCompile(`(?m)^›\s|\? for shortcuts`)},
}

func (Codex) Detect(s Screen) Detection { return Detect(codexRules, s) }

var codexChrome = regexp.MustCompile(`^(›|\? for shortcuts|─ Worked for|• Working|⏎ send|\d+% context left|Token usage)`)

// Reply returns what Codex drew after the echoed input ("› sent") up to
// its composer, without its chrome. Codex marks reply paragraphs with "• ".
func (Codex) Reply(before, after Screen, sent string) string {
	text := linesAfterEcho(after, sent, func(row string) bool { return codexChrome.MatchString(strings.TrimSpace(row)) }, false)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(line), "• "))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
