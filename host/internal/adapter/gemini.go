package adapter

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Gemini is the Gemini CLI (@google/gemini-cli).
type Gemini struct{}

func (Gemini) Type() string { return "gemini" }

func (Gemini) Launch(opts LaunchOptions) (Launch, error) {
	argv := []string{"gemini"}
	if len(opts.Command) > 0 {
		argv = append([]string{}, opts.Command...)
	}
	if opts.Approval != "ask" {
		argv = append(argv, "--yolo")
	}
	argv = append(argv, opts.ExtraArgs...)
	env := credentialEnv(opts.Credentials)
	if opts.Home != "" {
		env["HOME"] = opts.Home
	}
	maps.Copy(env, opts.Env)
	return Launch{Argv: argv, Env: env}, nil
}

// Preseed trusts the workdir and, with an API key, picks API-key auth, so
// Gemini skips its trust and auth dialogs.
func (Gemini) Preseed(opts LaunchOptions) error {
	if opts.Home == "" {
		return nil
	}
	dir := filepath.Join(opts.Home, ".gemini")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if opts.Workdir != "" {
		if err := writeJSON(filepath.Join(dir, "trustedFolders.json"), map[string]string{opts.Workdir: "TRUST_FOLDER"}); err != nil {
			return err
		}
	}
	settings := map[string]any{}
	if opts.Credentials.GoogleKey != "" {
		settings["security"] = map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}}
	}
	return writeJSON(filepath.Join(dir, "settings.json"), settings)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

var geminiRules = []Rule{
	{Name: "gemini: auth menu", State: StateLoginRequired,
		Match: regexp.MustCompile(`How would you like to authenticate|Enter Gemini API Key|Waiting for auth`),
		Extract: func(s Screen, d *Detection) {
			d.LoginURL = FirstURL(s)
			d.Question, d.Choices, d.Selected, _ = ParseMenu(s)
		}},
	{Name: "gemini: trust question", State: StateQuestion,
		Match:   regexp.MustCompile(`Do you trust the files in this folder\?`),
		Extract: menuExtract},
	{Name: "gemini: menu question", State: StateQuestion,
		Match:   regexp.MustCompile(`(?m)^\s*[│ ]*● \d+\. `),
		Extract: menuExtract},
	{Name: "gemini: error", State: StateError,
		Match: regexp.MustCompile(`API key not valid|Failed to login|Error when talking to Gemini API|fetch failed`),
		Extract: func(s Screen, d *Detection) {
			d.Message = RowMatching(s, regexp.MustCompile(`API key not valid|Failed to login|Error when talking|fetch failed`))
		}},
	{Name: "gemini: thinking", State: StateBusy,
		Match: regexp.MustCompile(`esc to cancel`)},
	{Name: "gemini: prompt", State: StateReady,
		Match: regexp.MustCompile(`Type your message or @path/to/file`)},
}

func (Gemini) Detect(s Screen) Detection { return Detect(geminiRules, s) }

var geminiChrome = regexp.MustCompile(`^(>|Type your message|\? for shortcuts|Using:|~|no sandbox|╭|╰)`)

// Reply returns what Gemini drew after the echoed input, without its
// chrome; Gemini marks its reply with "✦ ".
func (Gemini) Reply(before, after Screen, sent string) string {
	text := linesAfterEcho(after, sent, func(row string) bool { return geminiChrome.MatchString(unbox(row)) }, false)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, strings.TrimPrefix(unbox(line), "✦ "))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
