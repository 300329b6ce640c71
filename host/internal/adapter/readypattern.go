package adapter

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// ReadyPattern checks and compiles a ready pattern: a regular expression
// (Go's RE2 syntax) matched against the screen's last non-empty row, its
// trailing spaces trimmed (a bash prompt "$ " is matched as "$"). field
// names where it came from, for the error.
func ReadyPattern(field, pattern string) (*regexp.Regexp, error) {
	if strings.TrimSpace(pattern) == "" {
		return nil, fmt.Errorf("%s is empty; give a regular expression the prompt's row matches, such as `\\$$` (trailing spaces are trimmed), or leave it out", field)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s is not a regular expression (Go RE2 syntax): %v", field, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("%s %q matches an empty row, so every screen would count as ready; anchor it to the prompt's text, such as `\\$$`", field, pattern)
	}
	return re, nil
}

// WithReadyPattern returns a, reading ready off the screen's last
// non-empty row by re: where the row matches, the agent is ready, proven;
// where it doesn't, a's ready doesn't count. What a reads otherwise (a
// question, a login, an error, busy) stands.
func WithReadyPattern(a Adapter, re *regexp.Regexp) Adapter {
	if re == nil {
		return a
	}
	return readyPattern{Adapter: a, re: re}
}

type readyPattern struct {
	Adapter
	re *regexp.Regexp
}

func (r readyPattern) Detect(s screen.Lines) Detection {
	d := r.Adapter.Detect(s)
	if d.State != StateReady && d.State != StateUnknown {
		return d
	}
	if r.re.MatchString(lastRow(s)) {
		return Detection{State: StateReady, Rule: "ready_pattern", Selected: -1, Proven: true}
	}
	return Detection{Selected: -1}
}

// lastRow is the last row of s that shows anything.
func lastRow(s screen.Lines) string {
	if rows := trimBlankRows(s); len(rows) > 0 {
		return rows[len(rows)-1]
	}
	return ""
}
