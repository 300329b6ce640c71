package adapter

import (
	"regexp"
	"strings"
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

// ParseMenu finds the first numbered menu on the screen (rows "1. …",
// "2. …" in order) and returns its question, its choices and which one is
// highlighted (-1 if none is marked). ok is false when there is no menu of
// at least two choices.
func ParseMenu(screen Screen) (question string, choices []string, selected int, ok bool) {
	selected = -1
	for i := 0; i < len(screen); i++ {
		m := choiceRow.FindStringSubmatch(unbox(screen[i]))
		if m == nil || m[2] != "1" {
			continue
		}
		choices, selected = nil, -1
		j := i
		for ; j < len(screen); j++ {
			row := unbox(screen[j])
			if row == "" {
				continue
			}
			m := choiceRow.FindStringSubmatch(row)
			if m == nil || m[2] != itoa(len(choices)+1) {
				break
			}
			if m[1] != "" {
				selected = len(choices)
			}
			choices = append(choices, m[3])
		}
		if len(choices) < 2 {
			continue
		}
		return questionAbove(screen, i), choices, selected, true
	}
	return "", nil, -1, false
}

// questionAbove returns the nearest text above row i, joined with the rows
// of the same paragraph.
func questionAbove(screen Screen, i int) string {
	var lines []string
	for k := i - 1; k >= 0; k-- {
		row := unbox(screen[k])
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

// FirstURL returns the first URL on the screen. A URL that runs to the
// screen's right edge was wrapped, so it goes on at the start of the next
// row.
func FirstURL(screen Screen) string {
	width := 0
	for _, row := range screen {
		width = max(width, len([]rune(row)))
	}
	for i, row := range screen {
		u := urlPattern.FindString(row)
		if u == "" {
			continue
		}
		for k := i; k+1 < len(screen) && len([]rune(screen[k])) == width && strings.HasSuffix(screen[k], u[max(0, len(u)-4):]); k++ {
			next := urlPattern.FindString("http://" + strings.TrimSpace(screen[k+1]))
			if next == "" || !strings.HasPrefix(strings.TrimSpace(screen[k+1]), next[len("http://"):]) {
				break
			}
			u += next[len("http://"):]
		}
		return u
	}
	return ""
}

// RowMatching returns the first row that re matches, unboxed.
func RowMatching(screen Screen, re *regexp.Regexp) string {
	for _, row := range screen {
		if re.MatchString(row) {
			return unbox(row)
		}
	}
	return ""
}
