package adapter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// Gemini is the Gemini CLI (@google/gemini-cli).
type Gemini struct{}

func (Gemini) Type() string { return "gemini" }

func (Gemini) Launch(opts LaunchOptions) (Launch, error) {
	var flags []string
	if opts.Approval != "ask" {
		flags = append(flags, "--yolo")
	}
	return cliLaunch(opts, "gemini", flags, nil), nil
}

// Preseed trusts the workdir and, with an API key, picks API-key auth, so
// Gemini skips its trust and auth dialogs.
func (Gemini) Preseed(opts LaunchOptions) error {
	if opts.SeedDir == "" {
		return nil
	}
	dir := filepath.Join(opts.SeedDir, ".gemini")
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

// geminiRules are checked against testdata/gemini; see its README for the
// screens.
var geminiRules = []Rule{
	// The auth menu and the API key form behind it: both are sign-in. The
	// menu's only link is to the terms of service, so no LoginURL.
	{Name: "gemini: auth menu", State: StateLoginRequired,
		Match:   regexp.MustCompile(`How would you like to authenticate`),
		Extract: menuExtract},
	{Name: "gemini: api key prompt", State: StateLoginRequired,
		Match: regexp.MustCompile(`Enter Gemini API Key`),
		Extract: func(s screen.Lines, d *Detection) {
			d.Question = RowMatching(s, regexp.MustCompile(`Please enter your Gemini API key`))
		}},
	// A paragraph sits between the question and its menu.
	{Name: "gemini: trust question", State: StateQuestion,
		Match: geminiTrust,
		Extract: func(s screen.Lines, d *Detection) {
			menuExtract(s, d)
			d.Question = RowMatching(s, geminiTrust)
		}},
	{Name: "gemini: thinking", State: StateBusy,
		Match: regexp.MustCompile(`esc to cancel`)},
	// A message typed while the CLI starts ("Initializing... Prompts
	// will be queued.") waits above the prompt and runs once it is up:
	// the turn has not ended.
	{Name: "gemini: queued", State: StateBusy,
		Match: regexp.MustCompile(`Queued \(press ↑ to edit\)`)},
	// A failed turn: Gemini prints the error and is back at its prompt.
	// It counts as an error (the likely causes, a bad key or no quota,
	// don't go away by retrying) only while it is the last thing in the
	// conversation; once another message is sent, it is history and the
	// rules below read the screen.
	{Name: "gemini: api error", State: StateError,
		Match:   geminiAPIError,
		Require: func(s screen.Lines) bool { return nothingSentAfter(s, geminiAPIError, geminiEcho) },
		Extract: func(s screen.Lines, d *Detection) {
			block := geminiErrorBlock(s)
			d.Message = block
			if m := geminiErrorMessage.FindStringSubmatch(block); m != nil {
				d.Message = m[1]
			}
		}},
	// "> " is the prompt; with -y (YOLO) it is "* ".
	{Name: "gemini: prompt", State: StateReady,
		Match: regexp.MustCompile(`(?m)^\s*[>*]\s+Type your message or @path/to/file`)},
}

var (
	geminiTrust    = regexp.MustCompile(`Do you trust the files in this folder\?`)
	geminiAPIError = regexp.MustCompile(`(?m)^✕ \[API Error`)
	// The JSON's "message" in an API error.
	geminiErrorMessage = regexp.MustCompile(`"message":"([^"]+)"`)
	// geminiEcho is a sent message or a reply. The prompt row is ">   "
	// with its text further right, so it is neither.
	geminiEcho = regexp.MustCompile(`^\s*> \S|^✦ `)
)

// geminiErrorBlock returns the last API error, its rows joined back: Gemini
// wraps it at spaces where it can, indenting the rows after the first.
func geminiErrorBlock(s screen.Lines) string {
	var parts []string
	for i, row := range s {
		if geminiAPIError.MatchString(row) {
			parts = parts[:0]
			for _, r := range s[i:] {
				if strings.TrimSpace(r) == "" {
					break
				}
				parts = append(parts, strings.TrimSpace(r))
			}
		}
	}
	return strings.TrimPrefix(strings.Join(parts, " "), "✕ ")
}

func (Gemini) Detect(s screen.Lines) Detection { return Detect(geminiRules, s) }

var geminiChrome = regexp.MustCompile(`^(>|Type your message|\? for shortcuts|Using:|~|no sandbox|╭|╰)`)

// geminiRule is the top rule of the prompt box; 0.61 draws the input, its
// mode line and the workspace footer below it.
var geminiRule = regexp.MustCompile(`^─{10,}\s*$`)

// Reply returns what Gemini drew after the echoed input and above its
// prompt box, without its chrome; Gemini marks its reply with "✦ ".
func (Gemini) Reply(before, after screen.Lines, sent string) string {
	end := len(after)
	for i := len(after) - 1; i >= 0; i-- {
		if geminiRule.MatchString(after[i]) {
			end = i
			break
		}
	}
	text := linesAfterEcho(after[:end], sent, func(row string) bool { return geminiChrome.MatchString(unbox(row)) }, false)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, strings.TrimPrefix(unbox(line), "✦ "))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
