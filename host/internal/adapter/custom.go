package adapter

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// Custom runs any command. It knows nothing of the program's screen, so the
// agent counts as ready whenever its screen has settled, unless the program
// marks its prompts (OSC 133, which the session reads) or the agent type
// has a ready pattern (WithReadyPattern); a reply is what the screen added
// below the echoed input, up to the last row (often the program's next
// prompt).
//
// An interactive bash gets the host's prompt integration: PROMPT_COMMAND
// marks each prompt, so a turn ends the moment the next prompt is drawn.
// An agent's own PROMPT_COMMAND, in the request's or the type's env, wins.
type Custom struct{}

// BashPromptMarks is the PROMPT_COMMAND a custom bash agent gets: before
// each prompt it reports the last command's end (OSC 133;D with its
// status) and wraps PS1, whatever the rc files made it, in the marks for
// a prompt's start (A) and its end, where input begins (B).
const BashPromptMarks = `printf '\033]133;D;%s\007' "$?"; case "$PS1" in *'133;B'*) ;; *) PS1='\[\033]133;A\007\]'"$PS1"'\[\033]133;B\007\]' ;; esac`

func (Custom) Type() string { return CustomType }

func (Custom) Launch(opts LaunchOptions) (Launch, error) {
	if len(opts.Command) == 0 || opts.Command[0] == "" {
		return Launch{}, errors.New(`command is required for type "custom": an argv array such as ["bash"]`)
	}
	var env map[string]string
	if filepath.Base(opts.Command[0]) == "bash" {
		env = map[string]string{"PROMPT_COMMAND": BashPromptMarks}
	}
	return cliLaunch(opts, "", nil, env), nil
}

func (Custom) Preseed(LaunchOptions) error { return nil }

func (Custom) Detect(screen.Lines) Detection {
	return Detection{State: StateReady, Rule: "custom: settled", Selected: -1}
}

func (Custom) Reply(before, after screen.Lines, sent string) string {
	return linesAfterEcho(after, sent, func(string) bool { return false }, true)
}

// linesAfterEcho returns the rows below the last row that echoes sent,
// without rows skip rejects and, if dropLast, without the last non-empty
// row (the next prompt).
func linesAfterEcho(s screen.Lines, sent string, skip func(row string) bool, dropLast bool) string {
	probe := strings.TrimSpace(firstLine(sent))
	start := -1
	for i, row := range s {
		if probe != "" && strings.Contains(row, probe) {
			start = i
		}
	}
	if start < 0 {
		return ""
	}
	rows := trimBlankRows(s[start+1:])
	if dropLast && len(rows) > 0 {
		rows = trimBlankRows(rows[:len(rows)-1])
	}
	var out []string
	for _, r := range rows {
		if !skip(r) {
			out = append(out, strings.TrimRight(r, " "))
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func trimBlankRows(rows []string) []string {
	for len(rows) > 0 && strings.TrimSpace(rows[0]) == "" {
		rows = rows[1:]
	}
	for len(rows) > 0 && strings.TrimSpace(rows[len(rows)-1]) == "" {
		rows = rows[:len(rows)-1]
	}
	return rows
}

// cliLaunch builds what every CLI's launch has in common: its binary (or
// the configured command), then flags and the extra args; credentials, HOME
// and env in the environment, with the request's env last, so it wins.
func cliLaunch(opts LaunchOptions, binary string, flags []string, env map[string]string) Launch {
	argv := []string{binary}
	if len(opts.Command) > 0 {
		argv = slices.Clone(opts.Command)
	}
	argv = append(append(argv, flags...), opts.ExtraArgs...)
	all := credentialEnv(opts.Credentials)
	if opts.Home != "" {
		all["HOME"] = opts.Home
	}
	maps.Copy(all, env)
	maps.Copy(all, opts.Env)
	return Launch{Argv: argv, Env: all}
}

// credentialVars are the env vars the CLIs read each credential from.
func credentialVars(c *Credentials) map[string]*string {
	return map[string]*string{
		"ANTHROPIC_API_KEY": &c.AnthropicKey,
		"OPENAI_API_KEY":    &c.OpenAIKey,
		"GEMINI_API_KEY":    &c.GoogleKey,
		"GITHUB_TOKEN":      &c.GitHubToken,
	}
}

// credentialEnv maps credentials to the env vars the CLIs read.
func credentialEnv(c Credentials) map[string]string {
	env := map[string]string{}
	for k, v := range credentialVars(&c) {
		if *v != "" {
			env[k] = *v
		}
	}
	return env
}

// CredentialsFromEnv reads the credentials env holds in the vars the CLIs
// read them from.
func CredentialsFromEnv(env map[string]string) Credentials {
	var c Credentials
	for k, v := range credentialVars(&c) {
		*v = env[k]
	}
	return c
}

// With returns c with value as the credential the CLIs read from env var
// env (see CredentialEnv); c as it is when they read none from env.
func (c Credentials) With(env, value string) Credentials {
	if v, ok := credentialVars(&c)[env]; ok {
		*v = value
	}
	return c
}

// Or fills c's empty fields from d.
func (c Credentials) Or(d Credentials) Credentials {
	for k, v := range credentialVars(&c) {
		if *v == "" {
			*v = *credentialVars(&d)[k]
		}
	}
	return c
}
