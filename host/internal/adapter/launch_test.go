package adapter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLaunch(t *testing.T) {
	creds := Credentials{AnthropicKey: "sk-ant-FAKE-key-0123456789abcdefghij", OpenAIKey: "sk-FAKE-openai", GoogleKey: "FAKE-google", GitHubToken: "ghp_FAKE"}
	tests := []struct {
		typ      string
		opts     LaunchOptions
		wantArgv []string
		wantEnv  map[string]string
	}{
		{"claude", LaunchOptions{Home: "/h"}, []string{"claude", "--dangerously-skip-permissions"}, map[string]string{"HOME": "/h", "ANTHROPIC_API_KEY": creds.AnthropicKey}},
		{"claude", LaunchOptions{Approval: "ask", Command: []string{"/opt/claude"}, ExtraArgs: []string{"--model", "x"}}, []string{"/opt/claude", "--model", "x"}, map[string]string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}},
		{"codex", LaunchOptions{Home: "/h"}, []string{"codex", "--no-daemon", "--dangerously-bypass-approvals-and-sandbox"}, map[string]string{"CODEX_HOME": "/h/.codex", "OPENAI_API_KEY": creds.OpenAIKey}},
		{"codex", LaunchOptions{Approval: "ask"}, []string{"codex", "--no-daemon"}, nil},
		{"gemini", LaunchOptions{}, []string{"gemini", "--yolo"}, map[string]string{"GEMINI_API_KEY": creds.GoogleKey}},
		{"aider", LaunchOptions{Home: "/h"}, []string{"aider", "--yes-always", "--no-check-update", "--no-show-release-notes", "--analytics-disable"}, map[string]string{"GITHUB_TOKEN": creds.GitHubToken}},
		{"custom", LaunchOptions{Command: []string{"bash", "-l"}}, []string{"bash", "-l"}, map[string]string{"OPENAI_API_KEY": creds.OpenAIKey}},
		// The request's env wins over the adapter's.
		{"claude", LaunchOptions{Env: map[string]string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "0"}}, []string{"claude", "--dangerously-skip-permissions"}, map[string]string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+strings.Join(tt.wantArgv, " "), func(t *testing.T) {
			a, ok := For(tt.typ)
			if !ok {
				t.Fatalf("no adapter for %s", tt.typ)
			}
			tt.opts.Credentials = creds
			l, err := a.Launch(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Argv, tt.wantArgv) {
				t.Errorf("argv = %q, want %q", l.Argv, tt.wantArgv)
			}
			for k, v := range tt.wantEnv {
				if l.Env[k] != v {
					t.Errorf("env %s = %q, want %q", k, l.Env[k], v)
				}
			}
		})
	}
	// Claude Code refuses to skip permissions as root outside a sandbox.
	for _, approval := range []string{"autonomous", "ask"} {
		l, _ := Claude{}.Launch(LaunchOptions{Approval: approval})
		want := ""
		if approval == "autonomous" && os.Geteuid() == 0 {
			want = "1"
		}
		if l.Env["IS_SANDBOX"] != want {
			t.Errorf("claude %s as uid %d: IS_SANDBOX = %q, want %q", approval, os.Geteuid(), l.Env["IS_SANDBOX"], want)
		}
	}
	if _, err := (Custom{}).Launch(LaunchOptions{}); err == nil {
		t.Error("custom without a command launched")
	}
}

func TestPreseed(t *testing.T) {
	// As on a container runtime: the agent sees its home and workdir at
	// other paths than where the files are written.
	home, workdir := t.TempDir(), "/workspace"
	creds := Credentials{AnthropicKey: "sk-ant-FAKE-0000-abcdefghijklmnopqrst", OpenAIKey: "sk-FAKE-openai"}
	for _, typ := range []string{"claude", "codex", "gemini"} {
		a, _ := For(typ)
		if err := a.Preseed(LaunchOptions{Home: "/home/agent", SeedDir: home, Workdir: workdir, Credentials: creds}); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	var claude struct {
		HasCompletedOnboarding bool
		Projects               map[string]struct{ HasTrustDialogAccepted bool }
		CustomAPIKeyResponses  struct{ Approved []string } `json:"customApiKeyResponses"`
	}
	readJSON(t, filepath.Join(home, ".claude.json"), &claude)
	if !claude.HasCompletedOnboarding || !claude.Projects[workdir].HasTrustDialogAccepted ||
		!slices.Equal(claude.CustomAPIKeyResponses.Approved, []string{"abcdefghijklmnopqrst"}) {
		t.Errorf(".claude.json = %+v", claude)
	}
	var settings map[string]any
	readJSON(t, filepath.Join(home, ".claude", "settings.json"), &settings)
	if settings["skipDangerousModePermissionPrompt"] != true {
		t.Errorf(".claude/settings.json = %v", settings)
	}
	askHome := t.TempDir()
	if err := (Claude{}).Preseed(LaunchOptions{Home: askHome, SeedDir: askHome, Approval: "ask"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(askHome, ".claude", "settings.json")); err == nil {
		t.Error(`approval "ask" accepted bypass mode in .claude/settings.json`)
	}
	var auth map[string]string
	readJSON(t, filepath.Join(home, ".codex", "auth.json"), &auth)
	if auth["OPENAI_API_KEY"] != creds.OpenAIKey {
		t.Errorf("codex auth.json = %v", auth)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".codex", "config.toml")); !strings.Contains(string(b), `[projects."/workspace"]`) {
		t.Errorf("codex config.toml = %s", b)
	}
	var trusted map[string]string
	readJSON(t, filepath.Join(home, ".gemini", "trustedFolders.json"), &trusted)
	if trusted[workdir] != "TRUST_FOLDER" {
		t.Errorf("gemini trustedFolders.json = %v", trusted)
	}
	for _, f := range []string{".claude.json", ".codex/auth.json"} {
		if fi, err := os.Stat(filepath.Join(home, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s holds a key; mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestCredentialsFromEnvAndOr(t *testing.T) {
	tests := []struct {
		name    string
		request Credentials
		env     map[string]string
		want    Credentials
	}{
		{"nothing", Credentials{}, nil, Credentials{}},
		{"every var read", Credentials{},
			map[string]string{"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g", "GITHUB_TOKEN": "t", "HOME": "/h"},
			Credentials{AnthropicKey: "a", OpenAIKey: "o", GoogleKey: "g", GitHubToken: "t"}},
		{"the request's own win", Credentials{AnthropicKey: "mine"},
			map[string]string{"ANTHROPIC_API_KEY": "env", "OPENAI_API_KEY": "o"},
			Credentials{AnthropicKey: "mine", OpenAIKey: "o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.request.Or(CredentialsFromEnv(tt.env)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			// The round trip: credentials to env and back.
			if got := CredentialsFromEnv(credentialEnv(tt.want)); got != tt.want {
				t.Errorf("round trip %+v, want %+v", got, tt.want)
			}
		})
	}
}
