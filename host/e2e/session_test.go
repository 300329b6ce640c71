package e2e

import (
	"net/http"
	"strings"
	"testing"
)

func TestSendToACustomAgentReturnsItsOutput(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"/bin/sh"}, "env": map[string]string{"PS1": "$ "},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	h.waitStatus(a.ID, "ready")
	for i := range 3 {
		var resp struct {
			Message struct {
				Content string `json:"content"`
				Role    string `json:"role"`
			} `json:"message"`
		}
		code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{
			"message": "echo hello-$((40+2))", "expectResponse": true, "timeout": 30,
		}, &resp)
		if code != http.StatusOK || resp.Message.Content != "hello-42" || resp.Message.Role != "assistant" {
			t.Fatalf("send %d: status %d, %+v; want the reply hello-42", i, code, resp)
		}
	}
	var e apiError
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "  "}, &e); code != 400 || e.Field != "message" {
		t.Errorf("empty message: %d %+v", code, e)
	}
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/answer", map[string]any{"choice": 1}, &e); code != http.StatusConflict || !strings.Contains(e.Error, "no question") {
		t.Errorf("answer without a question: %d %+v", code, e)
	}
}
