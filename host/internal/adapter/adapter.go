// Package adapter knows each agent CLI: how to start it, how to pre-seed
// its home so onboarding doesn't block, how its credentials become env
// vars, and how to read its screen. Per-CLI knowledge lives here and
// nowhere else; one file per CLI, each with a detector table tested on
// recordings in testdata/<cli>/.
package adapter

import (
	"regexp"
	"time"

	"github.com/parallax/parallax/host/internal/screen"
)

// State is what an agent's screen shows.
type State string

const (
	// StateUnknown: nothing matched; the screen is still drawing, or
	// shows something no rule knows.
	StateUnknown State = ""
	// StateReady: the agent waits for input at its prompt.
	StateReady State = "ready"
	// StateBusy: the agent is working on a turn.
	StateBusy State = "busy"
	// StateLoginRequired: the agent wants the user to sign in.
	StateLoginRequired State = "login_required"
	// StateQuestion: the agent asks something: trust, a permission, y/n.
	StateQuestion State = "question"
	// StateError: the agent reports a failure it won't recover from by
	// itself, such as no connection to its API.
	StateError State = "error"
)

// Detection is what a detector read off the screen.
type Detection struct {
	State State
	// Rule names the rule that matched, for logs and tests.
	Rule string
	// Question and Choices are set for StateQuestion (and for a login
	// menu): the question text and the options as shown.
	Question string
	Choices  []string
	// Selected is the index into Choices of the highlighted choice, or -1
	// when the screen shows none.
	Selected int
	// LoginURL or DeviceCode are set for StateLoginRequired when the
	// screen shows one.
	LoginURL   string
	DeviceCode string
	// Message is the screen's own words for an error.
	Message string
	// Proven says a positive signal shows the state, such as a ready
	// pattern on the prompt's row: the session takes it at once, without
	// waiting for a still screen. Questions and logins are never taken
	// early: a false one costs more than a slow one.
	Proven bool
	// Still, if set, is how long the screen must be still before the
	// state counts, where that is longer than the session's own settle:
	// a screen that may yet turn into another.
	Still time.Duration
}

// Rule is one row of a detector table: when Match finds something in the
// screen text (and NotMatch, if set, finds nothing), the screen is in State.
// Rules are tried in order; the first that matches wins, so put the more
// specific ones first.
type Rule struct {
	Name     string
	State    State
	Match    *regexp.Regexp
	NotMatch *regexp.Regexp
	// Require, if set, must also hold, for what a regexp can't say (such
	// as where on the screen one match sits relative to another).
	Require func(s screen.Lines) bool
	// Extract, if set, fills the details of a match (question, choices,
	// login URL, error message).
	Extract func(s screen.Lines, d *Detection)
}

// Detect runs a detector table over a screen.
func Detect(rules []Rule, s screen.Lines) Detection {
	text := s.Text()
	for _, r := range rules {
		if !r.Match.MatchString(text) {
			continue
		}
		if r.NotMatch != nil && r.NotMatch.MatchString(text) {
			continue
		}
		if r.Require != nil && !r.Require(s) {
			continue
		}
		d := Detection{State: r.State, Rule: r.Name, Selected: -1}
		if r.Extract != nil {
			r.Extract(s, &d)
		}
		return d
	}
	return Detection{Selected: -1}
}

// Credentials are the secrets a spawn request may carry. They reach the
// agent only as env vars or files in its private home, never logs or API
// responses.
type Credentials struct {
	AnthropicKey string `json:"anthropicKey,omitempty"`
	OpenAIKey    string `json:"openaiKey,omitempty"`
	GoogleKey    string `json:"googleKey,omitempty"`
	GitHubToken  string `json:"githubToken,omitempty"`
}

// Secrets lists the non-empty secret values, for redaction.
func (c Credentials) Secrets() []string {
	var out []string
	for _, s := range []string{c.AnthropicKey, c.OpenAIKey, c.GoogleKey, c.GitHubToken} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Launch is everything an adapter decides about starting an agent.
type Launch struct {
	Argv []string
	Env  map[string]string
}

// LaunchOptions is what an adapter gets to build a Launch.
type LaunchOptions struct {
	// Command overrides the CLI's binary (argv[0]), or for custom is the
	// whole argv.
	Command []string
	// Approval is "autonomous" (the default: skip permission prompts) or
	// "ask" (leave the CLI's own prompts on).
	Approval string
	// ExtraArgs are appended to the argv.
	ExtraArgs []string
	// Workdir and Home are the agent's workdir and private home as the
	// agent sees them; Home is "" when pre-seeding is off.
	Workdir string
	Home    string
	// SeedDir is the home on this machine, already created, for Preseed to
	// write to. It is Home, except on a runtime whose agents have a
	// filesystem of their own (a container) that starts with a copy of it.
	SeedDir     string
	Credentials Credentials
	// Env is the user's env from the request; it wins over the adapter's.
	Env map[string]string
}

// Regioned is an adapter whose prompt sits in one part of the screen: the
// input box and the status rows under it. At start, ready counts once that
// part is still, while a logo or tip elsewhere may still animate.
type Regioned interface {
	// ReadyRegion returns the rows of s that must be still, or nil when s
	// shows no such part.
	ReadyRegion(s screen.Lines) screen.Lines
}

// Titled is an adapter that reads work in the window title the CLI sets:
// a spinner glyph there (Claude Code, Codex). A busy title is a positive
// signal that a turn began, however briefly the screen showed it, and
// while the title stays busy the turn has not ended, however the screen
// looks. Only for a CLI whose recordings show the title back at rest after
// a turn; see testdata/README.md.
type Titled interface {
	BusyTitle(title string) bool
}

// LoginLate is an adapter whose CLI, started with no login, draws its
// prompt before it says so (Claude Code 2.1.332 a second later). Read
// without that knowledge, such a prompt is a false ready.
type LoginLate interface {
	// ForLaunch returns the adapter to read an agent launched with opts
	// by: where opts give the CLI no login, its ready holds while the CLI
	// may yet say so.
	ForLaunch(opts LaunchOptions) Adapter
}

// Adapter is one agent CLI.
type Adapter interface {
	// Type is the agent type: claude, codex, gemini, aider or custom.
	Type() string
	// Launch builds the argv and env.
	Launch(opts LaunchOptions) (Launch, error)
	// Preseed writes the files into opts.SeedDir (config naming
	// opts.Workdir, for some CLIs) that let the CLI skip onboarding and
	// trust prompts.
	Preseed(opts LaunchOptions) error
	// Detect reads the screen.
	Detect(s screen.Lines) Detection
	// Reply extracts the agent's reply to sent from the screen after a
	// turn, without the echoed input, the prompt box and the TUI's chrome.
	// before is the screen when the message was sent.
	Reply(before, after screen.Lines, sent string) string
}
