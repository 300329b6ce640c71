package adapter

import (
	"regexp"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// Aider is aider-chat. It can't be installed here (no PyPI), so its rules
// come from its documented prompts and are tested on hand-written
// recordings; see testdata/README.md.
type Aider struct{}

func (Aider) Type() string { return "aider" }

func (Aider) Launch(opts LaunchOptions) (Launch, error) {
	var flags []string
	if opts.Approval != "ask" {
		flags = append(flags, "--yes-always")
	}
	if opts.Home != "" {
		// First-run questions and network checks that would block a
		// fresh home.
		flags = append(flags, "--no-check-update", "--no-show-release-notes", "--analytics-disable")
	}
	return cliLaunch(opts, "aider", flags, nil), nil
}

func (Aider) Preseed(LaunchOptions) error { return nil }

// aiderPrompt is aider's input prompt: "> ", or "<mode>> " in chat modes.
var aiderPrompt = regexp.MustCompile(`(?m)^(\w+ )?(ask|architect|code|help|context)?> ?$`)

// aiderRules are checked against the hand-written testdata/aider.
var aiderRules = []Rule{
	// Aider prints a failed turn's error and is back at its prompt; the
	// error counts only while no message was sent after it, or it would
	// outlive the next, successful turn.
	{Name: "aider: api error", State: StateError,
		Match:   aiderError,
		Require: func(s screen.Lines) bool { return nothingSentAfter(s, aiderError, aiderEcho) },
		Extract: func(s screen.Lines, d *Detection) {
			d.Message = RowMatching(s, aiderError)
		}},
	{Name: "aider: yes/no question", State: StateQuestion,
		Match: regexp.MustCompile(`\(Y\)es/\(N\)o.*\[(Yes|No)\]: ?\s*$`),
		Extract: func(s screen.Lines, d *Detection) {
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

var (
	aiderError = regexp.MustCompile(`(?m)^litellm\.\w+Error|credit balance is too low`)
	// aiderEcho is a sent message: the prompt with text after it.
	aiderEcho = regexp.MustCompile(`^(\w+ )?(ask|architect|code|help|context)?> \S`)
)

// nothingSentAfter says no row below the last row matching mark is a sent
// message (echo).
func nothingSentAfter(s screen.Lines, mark, echo *regexp.Regexp) bool {
	last := -1
	for i, row := range s {
		if mark.MatchString(row) {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	for _, row := range s[last+1:] {
		if echo.MatchString(row) {
			return false
		}
	}
	return true
}

func (Aider) Detect(s screen.Lines) Detection { return Detect(aiderRules, s) }

var aiderChrome = regexp.MustCompile(`^(Tokens: |Cost: |─+$)`)

func (Aider) Reply(before, after screen.Lines, sent string) string {
	return linesAfterEcho(after, sent, func(row string) bool { return aiderChrome.MatchString(strings.TrimSpace(row)) }, true)
}
