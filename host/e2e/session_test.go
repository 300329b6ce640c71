package e2e

import (
	"fmt"
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

func TestCredentialsNeverLeaveTheAgent(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	const key = "sk-ant-FAKE-parallax-leakcheck-c0ffee"
	stream := h.subscribe("")
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "command": []string{"/bin/sh"}, "env": map[string]string{"PS1": "$ "},
		"credentials": map[string]string{"anthropicKey": key},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d", code)
	}
	h.waitStatus(a.ID, "ready")
	var resp struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	// The agent has the key, as its env; what it prints of it is masked.
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{
		"message": `echo "key=$ANTHROPIC_API_KEY"`, "expectResponse": true, "timeout": 30,
	}, &resp); code != 200 || resp.Message.Content != "key=[REDACTED]" {
		t.Fatalf("send: %d, reply %q; want the key masked", code, resp.Message.Content)
	}
	var list []map[string]any
	h.do("GET", "/api/managed-agents", nil, &list)
	_, plain := h.get("/api/managed-agents/" + a.ID + "/logs")
	_, raw := h.get("/api/managed-agents/" + a.ID + "/logs?raw=true")
	_, metrics := h.get("/api/managed-agents/" + a.ID + "/metrics")
	if !strings.Contains(plain, "key=[REDACTED]") {
		t.Errorf("logs %q; want the masked key in them", plain)
	}
	eventually(t, "the reply's message event", func() bool { return stream.has("message", a.ID) })
	h.stop()
	for what, text := range map[string]string{
		"the agent list": fmt.Sprint(list), "the host's log": h.logs(), "the logs": plain, "the raw logs": raw,
		"the metrics": metrics, "the events": fmt.Sprint(stream.events()),
	} {
		if strings.Contains(text, key) {
			t.Errorf("the key leaked into %s", what)
		}
	}
}
