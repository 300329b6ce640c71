package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/parallax/parallax/host/internal/fakemodel"
)

// roundsParallel is 2, not the key tests' 4: in `make test` other packages
// run beside these, and 4 real CLIs at once on 2 cores starved Codex's
// start past a minute.
const roundsParallel = 2

// TestRealCLI_TwentySpawnsEachReplyExactly: per CLI, 20 spawns, 2 at a
// time, each reaching ready with no question or login on the way, each
// answering a message with exactly the fake model's text; the last answers
// the same message three times more.
func TestRealCLI_TwentySpawnsEachReplyExactly(t *testing.T) {
	bin := agentCLIs(t)
	tests := []struct {
		typ       string
		start     func() (url string, close func())
		agentType func(bin, url string) string
		creds     map[string]string
	}{
		{"claude", func() (string, func()) { m := fakemodel.NewAnthropic(); return m.URL(), m.Close }, claudeType, map[string]string{"anthropicKey": fakeKey}},
		{"codex", func() (string, func()) { m := fakemodel.NewOpenAIResponses(); return m.URL(), m.Close }, codexType, map[string]string{"openaiKey": "sk-FAKE-parallax-codex-rounds"}},
		{"gemini", func() (string, func()) { m := fakemodel.NewGemini(); return m.URL(), m.Close }, geminiType, map[string]string{"googleKey": "AIza-FAKE-parallax-gemini-rounds"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			url, closeModel := tt.start()
			t.Cleanup(closeModel)
			h := startHost(t, writeConfigWith(t, "", tt.agentType(bin, url)))
			stream := h.subscribe("")
			runRounds(t, h, apiKeyRounds, roundsParallel, func(i int, id *string) (err error) {
				a, err := h.spawnRound(map[string]any{"type": tt.typ, "workdir": t.TempDir(), "credentials": tt.creds})
				if err != nil {
					return err
				}
				*id = a.ID
				defer func() {
					if derr := h.deleteRound(a.ID); err == nil {
						err = derr
					}
				}()
				got, err := h.pollAgent(a.ID, "ready", func(a roundAgent) bool { return a.Status == "ready" || a.Pending != nil })
				if err != nil {
					return err
				}
				if got.Pending != nil {
					return fmt.Errorf("a %s on the way to ready: %+v", got.Pending.Type, got.Pending)
				}
				sends := 1
				if i == apiKeyRounds-1 {
					sends = 4
				}
				for n := 1; n <= sends; n++ {
					var r sendReply
					code, err := h.doErr("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r)
					if err != nil {
						return err
					}
					if code != http.StatusOK || r.Message.Content != fakemodel.DefaultReply {
						return fmt.Errorf("send %d: status %d, reply %q, want %q; agent output:\n%s", n, code, r.Message.Content, fakemodel.DefaultReply, h.screenLog(a.ID))
					}
				}
				return nil
			})
			var unwanted []error
			for _, e := range stream.events() {
				if e["event"] == "question" || e["event"] == "login_required" {
					unwanted = append(unwanted, fmt.Errorf("%v", e))
				}
			}
			if err := errors.Join(unwanted...); err != nil {
				t.Errorf("events no agent should have sent:\n%v", err)
			}
		})
	}
}
