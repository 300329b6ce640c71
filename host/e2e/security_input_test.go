package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Bad input gets a clear 400 naming the field, and nothing else: no agent
// is spawned, stopped or typed into.
func TestBadInputIsRefusedAndNothingElse(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	bash := h.spawnShell("bash", map[string]any{"command": []string{"bash", "--norc", "--noprofile", "-i"}})
	logs := func() string {
		req, _ := http.NewRequest("GET", h.url+"/api/managed-agents/"+bash.ID+"/logs", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	alive := func(t *testing.T) {
		t.Helper()
		var a agent
		if code := h.do("GET", "/api/managed-agents/"+bash.ID, nil, &a); code != 200 || a.Status != "ready" {
			t.Fatalf("the agent after the refusal: %d %+v; want it ready", code, a)
		}
	}

	t.Run("DELETE with timeout=NaN", func(t *testing.T) {
		var e apiError
		if code := h.do("DELETE", "/api/managed-agents/"+bash.ID+"?timeout=NaN", nil, &e); code != 400 || e.Field != "timeout" || !strings.Contains(e.Error, "0 to 3600") {
			t.Errorf("%d %+v; want 400 on timeout with the range", code, e)
		}
		alive(t)
	})

	t.Run("spawn with resources.timeout=1e300", func(t *testing.T) {
		var before []agent
		h.do("GET", "/api/managed-agents", nil, &before)
		var e apiError
		code := h.do("POST", "/api/managed-agents", json.RawMessage(`{"type":"custom","command":["sleep","60"],"resources":{"timeout":1e300}}`), &e)
		if code != 400 || e.Field != "resources.timeout" || !strings.Contains(e.Error, "8760h") {
			t.Errorf("%d %+v; want 400 on resources.timeout with the range", code, e)
		}
		var after []agent
		if h.do("GET", "/api/managed-agents", nil, &after); len(after) != len(before) {
			t.Errorf("%d agents after the refusal, %d before", len(after), len(before))
		}
	})

	t.Run("a bad resize frame", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, _, err := h.dialWS(ctx, "/ws/agents/"+bash.ID+"/terminal", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(64 << 20)
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"resize","cols":1e20,"rows":40}`)); err != nil {
			t.Fatal(err)
		}
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("no error frame: %v", err)
			}
			if typ != websocket.MessageText {
				continue // output
			}
			var e struct{ Type, Error string }
			if json.Unmarshal(b, &e) != nil || e.Type != "error" || !strings.Contains(e.Error, "cols must be a whole number from 1 to 1000") {
				t.Fatalf("text frame %s; want an error frame about cols", b)
			}
			break
		}
		// Input goes in order: once this ran, the frame before it would
		// have been typed, and bash echoes what it is typed.
		if err := c.Write(ctx, websocket.MessageBinary, []byte("echo typed-$((20+3))\r")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the echo after the resize frame", func() bool { return strings.Contains(logs(), "typed-23") })
		if l := logs(); strings.Contains(l, "1e20") || strings.Contains(l, "resize") {
			t.Errorf("the bad resize frame was typed into the agent:\n%s", l)
		}
	})

	t.Run("Ctrl-C in a message", func(t *testing.T) {
		var e apiError
		code := h.do("POST", "/api/managed-agents/"+bash.ID+"/send", map[string]any{"message": "sleep 1000\u0003"}, &e)
		if code != 400 || e.Field != "message" || !strings.Contains(e.Error, "U+0003") || !strings.Contains(e.Error, "/answer") {
			t.Errorf("%d %+v; want 400 on message naming U+0003 and pointing at answer", code, e)
		}
		alive(t)
		if code := h.do("POST", "/api/managed-agents/"+bash.ID+"/send", map[string]any{"message": "echo alive-$((2+3))"}, nil); code != http.StatusAccepted {
			t.Fatalf("a good message after the refusal: %d", code)
		}
		eventually(t, "the agent to run the good message", func() bool { return strings.Contains(logs(), "alive-5") })
		if strings.Contains(logs(), "sleep 1000") {
			t.Errorf("the refused message was typed")
		}
	})
}

// An agent that exits while a message is typed to it gives 409 with its
// exit, not 500 for the failed write.
func TestAgentThatExitsMidSendIs409(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	// Raw, without echo: the first key typed ends it, with code 7.
	a := h.spawnShell("dies", map[string]any{"command": []string{"sh", "-c", "stty raw -echo; printf 'ready> '; head -c1 >/dev/null; exit 7"}})
	var e struct {
		Error string `json:"error"`
		Exit  *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"exit"`
	}
	code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hello", "expectResponse": true}, &e)
	if code != http.StatusConflict || e.Exit == nil || e.Exit.Code != 7 || !strings.Contains(e.Error, "code 7") {
		t.Fatalf("%d %+v; want 409 with exit code 7; log:\n%s", code, e, h.logs())
	}
}
