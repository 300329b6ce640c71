package adapter

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/screen"
)

func screenOf(s string) screen.Lines { return screen.Lines(strings.Split(s, "\n")) }

func TestParseMenu(t *testing.T) {
	tests := []struct {
		name         string
		screen       string
		wantQuestion string
		wantChoices  []string
		wantSelected int
		wantOK       bool
	}{
		{"claude api key", `
 Detected a custom API key in your environment

 Do you want to use this API key?

   1. Yes
 ❯ 2. No (recommended)
`, "Do you want to use this API key?", []string{"Yes", "No (recommended)"}, 1, true},
		{"boxed gemini trust", `
│ Do you trust the files in this folder?          │
│                                                  │
│ ● 1. Trust folder (/tmp/x)                       │
│   2. Trust parent folder                         │
│   3. Don't trust                                 │
`, "Do you trust the files in this folder?", []string{"Trust folder (/tmp/x)", "Trust parent folder", "Don't trust"}, 0, true},
		{"no marker", "Pick one\n1. a\n2. b", "Pick one", []string{"a", "b"}, -1, true},
		{"codex: > marker, a description under each choice", `
  Choose how you want to use Codex.

> 1. Sign in with ChatGPT
     Usage included with Plus, Pro, Business, and Enterprise plans

  2. Sign in with Device Code
     Sign in from another device with a one-time code

  Press enter to continue
`, "Choose how you want to use Codex.", []string{"Sign in with ChatGPT", "Sign in with Device Code"}, 0, true},
		{"a dialog's marked menu wins over a list above it", `
Tips for getting started:
1. Create GEMINI.md files
2. /help for more information

│ Pick one │
│ ● 1. a   │
│   2. b   │
`, "Pick one", []string{"a", "b"}, 0, true},
		{"a lone numbered line is no menu", "Step\n1. do this\nthen that", "", nil, -1, false},
		{"no menu", "hello\nworld", "", nil, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, c, sel, ok := ParseMenu(screenOf(tt.screen))
			if q != tt.wantQuestion || !slices.Equal(c, tt.wantChoices) || sel != tt.wantSelected || ok != tt.wantOK {
				t.Errorf("ParseMenu = %q, %q, %d, %t; want %q, %q, %d, %t", q, c, sel, ok, tt.wantQuestion, tt.wantChoices, tt.wantSelected, tt.wantOK)
			}
		})
	}
}

func TestFirstURL(t *testing.T) {
	// 120 columns, as our PTYs are.
	wrapped := "https://claude.ai/oauth/authorize?code=true&client_id=abc" + strings.Repeat("x", 120-57)
	device := "https://example.com/device?code=ABCD-1234"
	tests := []struct {
		name, screen, want string
	}{
		{"none", "no link here", ""},
		{"plain", "Open https://example.com/device?code=AB-12 to sign in", "https://example.com/device?code=AB-12"},
		{"boxed", "│ https://auth.example.com/x │", "https://auth.example.com/x"},
		{"wrapped at the right edge", wrapped + "\nredirect=xyz&state=1\nshort", wrapped + "redirect=xyz&state=1"},
		// The longest row on the screen isn't necessarily a wrapped one.
		{"longest row, not wrapped", "Open " + device + "\nPress Enter to continue", device},
		{"longest row, one word below", "Open " + device + "\nPress", device},
		{"wide row, prose below", "Browse to " + strings.Repeat("x", 60) + " " + device + "\nthen press Enter", device},
	}
	for _, tt := range tests {
		if got := FirstURL(screenOf(tt.screen)); got != tt.want {
			t.Errorf("%s: FirstURL = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestClaudeReply(t *testing.T) {
	rule := strings.Repeat("─", 120)
	box := rule + "\n❯ \n" + rule + "\n"
	long := func(n int) (screen, want string) {
		var s, w []string
		for i := 1; i <= n; i++ {
			line := fmt.Sprintf("Line %d of %d.", i, n)
			w = append(w, line)
			if i == 1 {
				line = "● " + line
			} else {
				line = "  " + line
			}
			s = append(s, line)
		}
		return strings.Join(s, "\n"), strings.Join(w, "\n")
	}
	longScreen, longWant := long(100)
	tests := []struct {
		name, after, want string
	}{
		{"footer on one row", "❯ Say hello\n\n● Hi.\n\n✻ Baked for 1s\n\n" + box +
			"  ? for shortcuts · ← for agents" + strings.Repeat(" ", 60) + "● high · /effort\n", "Hi."},
		{"the effort on a row of its own", "❯ Say hello\n\n● Hi.\n\n" + box +
			"  ? for shortcuts · ← for agents" + strings.Repeat(" ", 60) + "Not logged in · Run /login\n" +
			strings.Repeat(" ", 102) + "● high · /effort\n", "Hi."},
		{"not logged in: no reply", "❯ Say hello\n  ⎿  Not logged in · Please run /login\n\n✻ Churned for 0s\n\n" + box +
			"  ? for shortcuts · ← for agents" + strings.Repeat(" ", 60) + "Not logged in · Run /login\n" +
			strings.Repeat(" ", 102) + "● high · /effort\n", ""},
		{"bypass footer", "❯ Say hello\n\n● Hi.\n\n" + box +
			"  ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents" + strings.Repeat(" ", 30) + "● high · /effort\n", "Hi."},
		// Were the box not drawn, the footer rows still aren't reply.
		{"footer rows without a box", "❯ Say hello\n\n● Hi.\n\n  ? for shortcuts · ← for agents\n" +
			strings.Repeat(" ", 102) + "● high · /effort\n  Not logged in · Run /login\n", "Hi."},
		// A reply taller than the screen, with what scrolled off on top,
		// an older turn above the echo.
		{"longer than the screen", "❯ Earlier\n\n● Old reply.\n\n❯ Say hello\n\n" + longScreen + "\n\n✻ Baked for 3s\n\n" + box +
			"  ? for shortcuts · ← for agents" + strings.Repeat(" ", 60) + "● high · /effort\n", longWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Claude{}).Reply(nil, screenOf(tt.after), "Say hello"); got != tt.want {
				t.Errorf("Reply = %q, want %q", got, tt.want)
			}
		})
	}
}
