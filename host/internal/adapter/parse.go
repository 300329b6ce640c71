package adapter

import (
	"regexp"
	"strings"

	"github.com/parallax/parallax/host/internal/screen"
)

// The helpers here read the parts of a screen that the CLIs draw alike:
// numbered menus, box borders, URLs.

// boxChars are the borders TUIs draw around prompts and dialogs.
const boxChars = "│┃║|╭╮╰╯┌┐└┘─━═ "

// unbox strips a row's box borders and surrounding space.
func unbox(row string) string {
	return strings.Trim(row, boxChars)
}

// choiceRow matches a numbered menu row: an optional highlight marker, the
// number, a dot and the label.
var choiceRow = regexp.MustCompile(`^\s*([❯›>●▶→*]?)\s*(\d{1,2})[.)]\s+(\S.*?)\s*$`)

// ParseMenu finds the numbered menu a CLI is asking with (rows "1. …",
// "2. …" in order) and returns its question, its choices and which one is
// highlighted (-1 if none is marked). ok is false when there is no menu of
// at least two choices.
//
// A screen can hold several numbered lists (Gemini's splash has "Tips for
// getting started: 1. … 4."), and a dialog is drawn below what it covers,
// so the last menu with a highlighted row wins, else the last menu.
// Rows indented deeper than the choice's number are the choice's
// description (Codex puts one under each sign-in option) and are skipped.
func ParseMenu(s screen.Lines) (question string, choices []string, selected int, ok bool) {
	selected = -1
	found, marked := false, false
	for i := 0; i < len(s); i++ {
		m := choiceRow.FindStringSubmatch(unbox(s[i]))
		if m == nil || m[2] != "1" {
			continue
		}
		var cs []string
		sel := -1
		indent := numberColumn(s[i])
		j := i
		for ; j < len(s); j++ {
			row := unbox(s[j])
			if row == "" {
				continue
			}
			m := choiceRow.FindStringSubmatch(row)
			if m == nil {
				if len(cs) > 0 && leadingBox(s[j]) > indent {
					continue
				}
				break
			}
			if m[2] != itoa(len(cs)+1) {
				break
			}
			if m[1] != "" {
				sel = len(cs)
			}
			cs = append(cs, m[3])
		}
		if len(cs) < 2 || (marked && sel < 0) {
			continue
		}
		question, choices, selected, ok = questionAbove(s, i), cs, sel, true
		found, marked = true, sel >= 0
		i = j - 1
	}
	if !found {
		return "", nil, -1, false
	}
	return question, choices, selected, ok
}

// numberColumn is the column of a menu row's number, past borders and the
// highlight marker.
func numberColumn(row string) int {
	for i, r := range []rune(row) {
		if r >= '0' && r <= '9' {
			return i
		}
	}
	return 0
}

// leadingBox counts a row's leading border and space runes.
func leadingBox(row string) int {
	n := 0
	for _, r := range row {
		if !strings.ContainsRune(boxChars, r) {
			break
		}
		n++
	}
	return n
}

// questionAbove returns the nearest text above row i, joined with the rows
// of the same paragraph.
func questionAbove(s screen.Lines, i int) string {
	var lines []string
	for k := i - 1; k >= 0; k-- {
		row := unbox(s[k])
		if row == "" {
			if len(lines) > 0 {
				break
			}
			continue
		}
		lines = append([]string{row}, lines...)
		if len(lines) == 3 {
			break
		}
	}
	return strings.Join(lines, " ")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

var urlPattern = regexp.MustCompile(`https?://[^\s│"'<>]+`)

// wrapWidth is how wide a row must be before a URL at its end counts as
// wrapped: our PTYs are 120 columns, and a CLI that prints a long URL lets
// the terminal wrap it at the right edge.
const wrapWidth = 100

// FirstURL returns the first URL on the screen. A URL ending a row at
// least wrapWidth wide may have been wrapped, so a following row that is a
// single token (no spaces: the URL's tail, not the next line of prose) is
// joined to it.
func FirstURL(s screen.Lines) string {
	for i, row := range s {
		u := urlPattern.FindString(row)
		if u == "" {
			continue
		}
		for k := i; k+1 < len(s); k++ {
			cur := strings.TrimRight(s[k], " ")
			if len([]rune(cur)) < wrapWidth || !strings.HasSuffix(cur, u[max(0, len(u)-4):]) {
				break
			}
			next := strings.TrimSpace(s[k+1])
			if next == "" || strings.ContainsAny(next, " \t") {
				break
			}
			tail := urlPattern.FindString("http://" + next)
			if len(tail) != len("http://")+len(next) {
				break
			}
			u += next
		}
		return u
	}
	return ""
}

// RowMatching returns the first row that re matches, unboxed.
func RowMatching(s screen.Lines, re *regexp.Regexp) string {
	for _, row := range s {
		if re.MatchString(row) {
			return unbox(row)
		}
	}
	return ""
}
