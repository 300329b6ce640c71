package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/fakemodel"
)

// screenLog is the agent's terminal log, or why it can't be had, for
// failure messages.
func (h *host) screenLog(id string) string {
	logs, err := h.agentLogs(id)
	if err != nil {
		return err.Error()
	}
	return logTail(logs, 120)
}

type sendReply struct {
	Message struct {
		Content string `json:"content"`
	} `json:"message"`
}

// Without a key, Claude Code (pre-seeded past its onboarding) draws its
// prompt box with "Not logged in · Run /login" in the footer. That is a
// login, not ready; a key provided then makes it ready.
func TestRealCLI_ClaudeWithoutAKeyWantsALogin(t *testing.T) {
	bin := agentCLIs(t)
	model := fakemodel.NewAnthropic()
	t.Cleanup(model.Close)
	h := startHost(t, writeConfigWith(t, "", claudeType(bin, model.URL())))
	stream := h.subscribe("")

	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "claude", "workdir": t.TempDir()}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d %+v", code, a)
	}
	p := h.waitPending(a.ID, "login_required")
	if !strings.Contains(p.Question, "Not logged in") {
		t.Errorf("login prompt %+v; want claude's \"Not logged in\" footer", p)
	}
	var e apiError
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hi"}, &e); code != http.StatusConflict {
		t.Errorf("send while not logged in: %d %+v, want 409", code, e)
	}
	for _, ev := range stream.events() {
		if ev["agentId"] == a.ID && (ev["event"] == "agent_ready" || ev["event"] == "agent_error") {
			t.Errorf("event %v while not logged in; want only login_required", ev)
		}
	}
	if n := model.TurnCount(); n != 0 {
		t.Errorf("the model saw %d turns before a key was given", n)
	}

	var after agent
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/credentials", map[string]any{"apiKey": fakeKey}, &after); code != http.StatusOK || after.ID != a.ID {
		t.Fatalf("credentials: %d %+v", code, after)
	}
	h.waitStatus(a.ID, "ready")
	var r sendReply
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 120}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
		t.Fatalf("send with the key: %d %q, want %q; agent output:\n%s", code, r.Message.Content, fakemodel.DefaultReply, h.screenLog(a.ID))
	}
}

// A reply twice as tall as the terminal (40 rows) comes back whole: its
// start scrolled off the top, and Send reads it back from the scrollback.
func TestRealCLI_ClaudeRepliesLongerThanTheScreen(t *testing.T) {
	bin := agentCLIs(t)
	const n = 80
	var lines []string
	for i := 1; i <= n; i++ {
		lines = append(lines, fmt.Sprintf("Line %d of %d.", i, n))
	}
	// Markdown joins lines of one paragraph: a blank line between makes
	// each its own.
	model := fakemodel.NewAnthropic(fakemodel.WithReply(func([]byte) string { return strings.Join(lines, "\n\n") }))
	t.Cleanup(model.Close)
	h := startHost(t, writeConfigWith(t, "", claudeType(bin, model.URL())))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "workdir": t.TempDir(), "credentials": map[string]string{"anthropicKey": fakeKey},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d %+v", code, a)
	}
	h.waitStatus(a.ID, "ready")
	for try := 1; try <= 2; try++ {
		var r sendReply
		code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "count to eighty", "expectResponse": true, "timeout": 120}, &r)
		var got []string
		for _, l := range strings.Split(r.Message.Content, "\n") {
			if l != "" {
				got = append(got, l)
			}
		}
		if code != 200 || strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("send %d: %d, reply of %d non-blank lines, want the %d lines in order:\n%s\n\nagent output:\n%s",
				try, code, len(got), n, r.Message.Content, h.screenLog(a.ID))
		}
	}
}
