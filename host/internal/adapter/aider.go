package adapter

import (
	"maps"
	"regexp"
	"strings"
)

// Aider is aider-chat. It can't be installed here (no PyPI), so its rules
// come from its documented prompts and are tested on hand-written
// recordings; see testdata/README.md.
type Aider struct{}

func (Aider) Type() string { return "aider" }

func (Aider) Launch(opts LaunchOptions) (Launch, error) {
	argv := []string{"aider"}
	if len(opts.Command) > 0 {
		argv = append([]string{}, opts.Command...)
	}
	if opts.Approval != "ask" {
		argv = append(argv, "--yes-always")
	}
	if opts.Home != "" {
		// First-run questions and network checks that would block a
		// fresh home.
		argv = append(argv, "--no-check-update", "--no-show-release-notes", "--analytics-disable")
	}
	argv = append(argv, opts.ExtraArgs...)
	env := credentialEnv(opts.Credentials)
	if opts.Home != "" {
		env["HOME"] = opts.Home
	}
	maps.Copy(env, opts.Env)
	return Launch{Argv: argv, Env: env}, nil
}

func (Aider) Preseed(LaunchOptions) error { return nil }

// aiderPrompt is aider's input prompt: "> ", or "<mode>> " in chat modes.
var aiderPrompt = regexp.MustCompile(`(?m)^(\w+ )?(ask|architect|code|help|context)?> ?$`)

var aiderRules = []Rule{
	{Name: "aider: api error", State: StateError,
		Match: regexp.MustCompile(`litellm\.(AuthenticationError|APIConnectionError|RateLimitError|NotFoundError)|credit balance is too low`),
		Extract: func(s Screen, d *Detection) {
			d.Message = RowMatching(s, regexp.MustCompile(`litellm\.|credit balance`))
		}},
	{Name: "aider: missing key", State: StateLoginRequired,
		Match:   regexp.MustCompile(`Missing these environment variables`),
		Extract: func(s Screen, d *Detection) { d.LoginURL = FirstURL(s) }},
	{Name: "aider: yes/no question", State: StateQuestion,
		Match: regexp.MustCompile(`\(Y\)es/\(N\)o.*\[(Yes|No)\]: ?\s*$`),
		Extract: func(s Screen, d *Detection) {
			row := RowMatching(s, regexp.MustCompile(`\(Y\)es/\(N\)o`))
			q, opts, _ := strings.Cut(row, "(Y)es")
			d.Question = strings.TrimSpace(q)
			for _, o := range strings.Split("(Y)es"+opts, "/") {
				o, _, _ = strings.Cut(o, " [")
				d.Choices = append(d.Choices, strings.NewReplacer("(", "", ")", "").Replace(strings.TrimSpace(o)))
			}
		}},
	{Name: "aider: waiting for the model", State: StateBusy,
		Match: regexp.MustCompile(`Waiting for |[░█]{3,}`)},
	{Name: "aider: prompt", State: StateReady,
		Match: aiderPrompt},
}

func (Aider) Detect(s Screen) Detection { return Detect(aiderRules, s) }

var aiderChrome = regexp.MustCompile(`^(Tokens: |Cost: |─+$)`)

func (Aider) Reply(before, after Screen, sent string) string {
	return linesAfterEcho(after, sent, func(row string) bool { return aiderChrome.MatchString(strings.TrimSpace(row)) }, true)
}
