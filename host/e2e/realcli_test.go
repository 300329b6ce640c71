package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/fakemodel"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// The real agent CLIs, pinned in test/agent-clis and installed by
// `make test`, run in the local runtime through the host. Only the model
// APIs are fakes (package fakemodel): they can't be reached here.

// A recognisable fake key, so a leak can be found in any output.
const fakeKey = "sk-ant-FAKE-parallax-leakcheck-7f3a9c"

func agentCLIs(t *testing.T) string {
	dir := os.Getenv("PARALLAX_AGENT_CLIS")
	if dir == "" {
		t.Skip("PARALLAX_AGENT_CLIS is not set: `make test` installs the pinned agent CLIs and sets it")
	}
	return dir
}

type pending struct {
	Type     string   `json:"type"`
	Question string   `json:"question"`
	Choices  []string `json:"choices"`
	LoginURL string   `json:"loginUrl"`
}

type agentWithPending struct {
	agent
	Pending *pending `json:"pending"`
}

// waitPending waits until the agent waits on a prompt of type typ.
func (h *host) waitPending(id, typ string) pending {
	h.t.Helper()
	var a agentWithPending
	eventually(h.t, "agent "+id+" to wait on a "+typ, func() bool {
		h.do("GET", "/api/managed-agents/"+id, nil, &a)
		return a.Pending != nil && a.Pending.Type == typ
	})
	return *a.Pending
}

func TestRealCLI_ClaudeBecomesReadyAndRepliesWithTheModelsText(t *testing.T) {
	bin := agentCLIs(t)
	gate := make(chan struct{})
	model := fakemodel.NewAnthropic(fakemodel.WithGate(gate))
	t.Cleanup(model.Close)
	h := startHost(t, writeConfigWith(t, "", claudeType(bin, model.URL())))

	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "workdir": t.TempDir(), "credentials": map[string]string{"anthropicKey": fakeKey},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d %+v", code, a)
	}
	h.waitStatus(a.ID, "ready")

	// The first turn is held by the fake, so the agent is seen busy.
	type reply struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	first := make(chan reply, 1)
	go func() {
		var r reply
		h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r)
		first <- r
	}()
	h.waitStatus(a.ID, "busy")
	close(gate)
	if r := <-first; r.Message.Content != fakemodel.DefaultReply {
		t.Fatalf("reply %q, want %q; screen log:\n%s", r.Message.Content, fakemodel.DefaultReply, h.logs())
	}
	h.waitStatus(a.ID, "ready")

	// The same message again gives a reply each time.
	for i := range 2 {
		var r reply
		if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
			t.Fatalf("send %d again: %d %q", i+2, code, r.Message.Content)
		}
	}
	if n := model.TurnCount(); n != 3 {
		t.Errorf("the model saw %d turns, want 3", n)
	}

	var all []byte
	for _, path := range []string{"/api/managed-agents", "/api/managed-agents/" + a.ID, "/api/runtimes"} {
		req, _ := http.NewRequest("GET", h.url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		all = append(all, buf[:n]...)
	}
	h.stop()
	if strings.Contains(h.logs(), fakeKey) || strings.Contains(string(all), fakeKey) {
		t.Errorf("the API key leaked into the host's log or API responses")
	}
}

func TestRealCLI_CodexWithoutAuthWantsALogin(t *testing.T) {
	bin := agentCLIs(t)
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "codex" {
  command = [%q]
}`, filepath.Join(bin, "codex"))))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "codex", "workdir": t.TempDir()}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	p := h.waitPending(a.ID, "login_required")
	if !strings.Contains(strings.Join(p.Choices, "|"), "Sign in with ChatGPT") {
		t.Errorf("login prompt %+v; want codex's sign-in choices", p)
	}
	var e apiError
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hi"}, &e); code != http.StatusConflict {
		t.Errorf("send while a login is pending: %d %+v, want 409", code, e)
	}
}

func TestRealCLI_GeminiAsksToTrustTheFolderThenWantsAuth(t *testing.T) {
	bin := agentCLIs(t)
	// Without pre-seeding, gemini asks about trust as on a first start; its
	// own home keeps it away from this machine's.
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "gemini" {
  command = [%q]
  preseed = false
  env     = { HOME = %q }
}`, filepath.Join(bin, "gemini"), t.TempDir())))
	stream := h.subscribe("")
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "gemini", "workdir": t.TempDir()}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	q := h.waitPending(a.ID, "question")
	if !strings.Contains(q.Question, "trust") || len(q.Choices) != 3 {
		t.Fatalf("question %+v; want the folder trust question with 3 choices", q)
	}
	var after agentWithPending
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/answer", map[string]any{"choice": 1}, &after); code != http.StatusOK {
		t.Fatalf("answer: %d", code)
	}
	login := h.waitPending(a.ID, "login_required")
	if !strings.Contains(strings.Join(login.Choices, "|"), "Gemini API Key") {
		t.Errorf("auth prompt %+v; want gemini's auth menu", login)
	}

	// No false events: exactly one question, then exactly one login, and
	// never ready or an error. Stopping the agent ends its events, so all
	// it sent before are in by its agent_stopped.
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	eventually(t, "agent_stopped", func() bool { return stream.has("agent_stopped", a.ID) })
	var seen []string
	for _, e := range stream.events() {
		switch e["event"] {
		case "question", "login_required", "agent_ready", "agent_error", "message":
			if e["agentId"] == a.ID {
				seen = append(seen, fmt.Sprint(e["event"]))
			}
		}
	}
	if strings.Join(seen, ",") != "question,login_required" {
		t.Errorf("events %v; want exactly question, then login_required", seen)
	}
}

func TestRealCLI_GeminiLoginIsSolvedByProvidingAKey(t *testing.T) {
	bin := agentCLIs(t)
	h := startHost(t, writeConfigWith(t, "", fmt.Sprintf(`agent_type "gemini" {
  command = [%q]
}`, filepath.Join(bin, "gemini"))))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "gemini", "workdir": t.TempDir()}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	// Pre-seeding trusted the folder, but without a key gemini wants auth.
	h.waitPending(a.ID, "login_required")

	const key = "AIza-FAKE-parallax-leakcheck-55e1"
	var after agent
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/credentials", map[string]any{"apiKey": key}, &after); code != http.StatusOK || after.ID != a.ID {
		t.Fatalf("credentials: %d %+v", code, after)
	}
	h.waitStatus(a.ID, "ready")
	h.stop()
	if strings.Contains(h.logs(), key) {
		t.Errorf("the key leaked into the host's log")
	}
}

func TestRealCLI_CodexRepliesWithTheModelsText(t *testing.T) {
	bin := agentCLIs(t)
	model := fakemodel.NewOpenAIResponses()
	t.Cleanup(model.Close)
	// The fake provider goes in as -c overrides, beside the pre-seeded
	// config.toml that trusts the workdir.
	h := startHost(t, writeConfigWith(t, "", codexType(bin, model.URL())))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "codex", "workdir": t.TempDir(), "credentials": map[string]string{"openaiKey": "sk-FAKE-parallax-codex-0001"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	h.waitStatus(a.ID, "ready")
	var r struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
		t.Fatalf("send: %d, reply %q; want %q", code, r.Message.Content, fakemodel.DefaultReply)
	}
	if !strings.Contains(strings.Join(model.UserTexts(), "\n"), "say hello") {
		t.Errorf("the model never saw the message: %q", model.UserTexts())
	}
}

// A warm pool of the real CLIs, key and model given by the agent type:
// pool agents get ready with no workdir of their own and no question
// asked, and a spawn takes one that answers.
func TestRealCLI_WarmPool(t *testing.T) {
	bin := agentCLIs(t)
	claudeModel := fakemodel.NewAnthropic()
	t.Cleanup(claudeModel.Close)
	codexModel := fakemodel.NewOpenAIResponses()
	t.Cleanup(codexModel.Close)
	const codexKey = "sk-FAKE-parallax-codex-pool-0002"
	tests := []struct {
		typ, key, agentType string
	}{
		{"claude", fakeKey, fmt.Sprintf(`agent_type "claude" {
  command = [%q]
  env     = { ANTHROPIC_BASE_URL = %q, ANTHROPIC_API_KEY = %q }
}`, filepath.Join(bin, "claude"), claudeModel.URL(), fakeKey)},
		{"codex", codexKey, fmt.Sprintf(`agent_type "codex" {
  command = [%q]
  env     = { OPENAI_API_KEY = %q }
  args    = ["-c", "model_provider=\"fake\"", "-c", "model_providers.fake.name=\"fake\"",
             "-c", "model_providers.fake.base_url=\"%s/v1\"", "-c", "model_providers.fake.env_key=\"OPENAI_API_KEY\"",
             "-c", "model_providers.fake.wire_api=\"responses\""]
}`, filepath.Join(bin, "codex"), codexKey, codexModel.URL())},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			h := startHost(t, writeConfigWith(t, "", tt.agentType+fmt.Sprintf("\nwarm_pool {\n  %s = 1\n}\n", tt.typ)))
			ready := func() bool {
				var list []agent
				h.do("GET", "/api/managed-agents?pooled=true&status=ready", nil, &list)
				return len(list) == 1
			}
			runtimetest.Eventually(t, 2*time.Minute, "a ready pool agent", ready, func() string { return "log:\n" + h.logs() })
			var a agent
			if code := h.do("POST", "/api/managed-agents", map[string]any{"type": tt.typ, "name": "taken"}, &a); code != http.StatusCreated || a.Status != "ready" || a.Pooled {
				t.Fatalf("spawn: %d %+v; want a ready agent from the pool; log:\n%s", code, a, h.logs())
			}
			var r sendReply
			if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 120}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
				t.Fatalf("send: %d %q, want %q; agent output:\n%s", code, r.Message.Content, fakemodel.DefaultReply, h.screenLog(a.ID))
			}
			// The key came from the config, not the request: still a secret.
			logs, _ := h.agentLogs(a.ID)
			if strings.Contains(h.logs(), tt.key) || strings.Contains(logs, tt.key) {
				t.Error("the agent type's key shows in the host's log or the agent's")
			}
		})
	}
}

// Gemini CLI against the fake Gemini API: its model router's JSON call is
// answered in kind, and the turn streams the fake's text.
func TestRealCLI_GeminiRepliesWithTheModelsText(t *testing.T) {
	bin := agentCLIs(t)
	model := fakemodel.NewGemini()
	t.Cleanup(model.Close)
	h := startHost(t, writeConfigWith(t, "", geminiType(bin, model.URL())))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "gemini", "workdir": t.TempDir(), "credentials": map[string]string{"googleKey": "AIza-FAKE-parallax-gemini-0003"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	h.waitStatus(a.ID, "ready")
	var r sendReply
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
		t.Fatalf("send: %d, reply %q; want %q; agent output:\n%s", code, r.Message.Content, fakemodel.DefaultReply, h.screenLog(a.ID))
	}
	if !strings.Contains(strings.Join(model.UserTexts(), "\n"), "say hello") {
		t.Errorf("the model never saw the message: %q", model.UserTexts())
	}
}

// claudeType is an agent_type block running Claude Code from bin against
// the fake model at url; codexType and geminiType are its likes.
func claudeType(bin, url string) string {
	return fmt.Sprintf(`agent_type "claude" {
  command = [%q]
  env     = { ANTHROPIC_BASE_URL = %q }
}`, filepath.Join(bin, "claude"), url)
}

// codexType gives Codex the fake as -c overrides, beside the pre-seeded
// config.toml that trusts the workdir.
func codexType(bin, url string) string {
	return fmt.Sprintf(`agent_type "codex" {
  command = [%q]
  args    = ["-c", "model_provider=\"fake\"", "-c", "model_providers.fake.name=\"fake\"",
             "-c", "model_providers.fake.base_url=\"%s/v1\"", "-c", "model_providers.fake.env_key=\"OPENAI_API_KEY\"",
             "-c", "model_providers.fake.wire_api=\"responses\""]
}`, filepath.Join(bin, "codex"), url)
}

func geminiType(bin, url string) string {
	return fmt.Sprintf(`agent_type "gemini" {
  command = [%q]
  env     = { GOOGLE_GEMINI_BASE_URL = %q }
}`, filepath.Join(bin, "gemini"), url)
}
