package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// sendFor sends text to agent id over REST, expecting a response, and
// returns the reply.
func (h *host) sendFor(t testing.TB, id, text string) string {
	t.Helper()
	var reply sendReply
	if code := h.do("POST", "/api/managed-agents/"+id+"/send", map[string]any{"message": text, "expectResponse": true, "timeout": 60}, &reply); code != http.StatusOK {
		t.Fatalf("send %q to %s: status %d; log:\n%s", text, id, code, h.logs())
	}
	return reply.Message.Content
}

// TestCustomAgentTurnEndsOnAPositiveSignal: a command quiet for longer
// than the quiet screen a custom agent's turn otherwise ends by (4 x
// 250ms) is answered with its output, over REST, when the prompt is
// proven: by the prompt marks a bash agent gets from the host, or by a
// ready pattern.
func TestCustomAgentTurnEndsOnAPositiveSignal(t *testing.T) {
	h := startHost(t, writeConfig(t, ""))
	tests := []struct {
		name string
		req  map[string]any
	}{
		{"bash with the host's prompt marks", map[string]any{"type": "custom", "command": []string{"bash", "--norc", "--noprofile"}}},
		{"sh with a ready pattern", map[string]any{"type": "custom", "command": []string{"sh"}, "env": map[string]string{"PS1": "go> "}, "readyPattern": "^go>$"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a agent
			if code := h.do("POST", "/api/managed-agents", tt.req, &a); code != http.StatusCreated {
				t.Fatalf("spawn: %d", code)
			}
			h.waitStatus(a.ID, "ready")
			if got := h.sendFor(t, a.ID, "sleep 1.5; echo done"); got != "done" {
				t.Errorf("reply = %q, want done", got)
			}
			if got := h.sendFor(t, a.ID, "echo hi"); got != "hi" {
				t.Errorf("reply = %q, want hi", got)
			}
		})
	}
	req, err := http.NewRequest("POST", h.url+"/api/managed-agents", strings.NewReader(`{"type":"custom","command":["sh"],"readyPattern":"a|"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	code, body := h.rawRequest(req)
	if code != http.StatusBadRequest || !strings.Contains(body, "readyPattern") {
		t.Errorf("a ready pattern matching an empty row: %d %s; want 400 naming readyPattern", code, body)
	}
}

// BenchmarkCustomBashEchoRoundTrip: `echo` over REST /send to a custom
// bash agent, p50 of the round trip, with the host's prompt marks and
// with them turned off (an empty PROMPT_COMMAND), side by side.
func BenchmarkCustomBashEchoRoundTrip(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	for _, tt := range []struct {
		name    string
		env     map[string]string
		samples int
	}{
		{"prompt-marks", nil, 50},
		{"quiet-screen", map[string]string{"PROMPT_COMMAND": ""}, 5},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var a agent
			if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"bash", "--norc", "--noprofile"}, "env": tt.env}, &a); code != http.StatusCreated {
				b.Fatalf("spawn: %d", code)
			}
			h.waitStatus(a.ID, "ready")
			var lat []time.Duration
			for range b.N {
				for i := range tt.samples {
					want := fmt.Sprintf("echo-%d", i)
					start := time.Now()
					if got := h.sendFor(b, a.ID, "echo "+want); got != want {
						b.Fatalf("reply %q, want %q", got, want)
					}
					lat = append(lat, time.Since(start))
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
