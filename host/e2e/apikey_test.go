package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/fakemodel"
)

// Claude Code asks "Detected a custom API key in your environment … Do you
// want to use this API key?" when ANTHROPIC_API_KEY holds a key it hasn't
// been told about, with the cursor on "2. No (recommended)". Picking "No"
// leaves it "Not logged in" at a prompt that looks ready, so a wrong
// keystroke there passes for a success unless the reply is checked. These
// tests answer the question, and start without it, many times over on one
// host, a few agents at a time, against the real pinned CLI.

const (
	apiKeyRounds   = 20
	apiKeyParallel = 4
	// stepTimeout bounds each wait of a round: generous, since this is a
	// slow shared machine and rounds run side by side. No step is timed.
	stepTimeout = 60 * time.Second
)

// keyRecorder sits between the agents and the fake model and notes the
// x-api-key of every model request, so a test can tell which key (so
// which round's agent) a turn came with.
type keyRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string]int // x-api-key -> POST /v1/messages requests
}

func newKeyRecorder(t *testing.T, model *fakemodel.Anthropic) *keyRecorder {
	t.Helper()
	target, err := url.Parse(model.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// Stream the SSE answer through as it comes.
	proxy.FlushInterval = -1
	k := &keyRecorder{keys: map[string]int{}}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/messages" {
			k.mu.Lock()
			k.keys[r.Header.Get("x-api-key")]++
			k.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *keyRecorder) turnsWith(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[key]
}

// doErr is host.do that returns its failures instead of ending the test, for
// use off the test's goroutine.
func (h *host) doErr(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		return 0, err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	// No step of a round may hang the test: a send is bounded by its own
	// timeout, which is below this.
	client := &http.Client{Timeout: stepTimeout + 30*time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: status %d, body %q: %w", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

// squeeze drops all white space: Claude Code draws the gaps between
// some words as cursor moves, which the plain-text log leaves out
// ("Notloggedin·Run/login").
func squeeze(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// agentLogs is GET /api/managed-agents/:id/logs: the agent's terminal
// output as plain text.
func (h *host) agentLogs(id string) (string, error) {
	req, err := http.NewRequest("GET", h.url+"/api/managed-agents/"+id+"/logs", nil)
	if err != nil {
		return "", err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := (&http.Client{Timeout: stepTimeout}).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET logs: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET logs: status %d, %q", resp.StatusCode, b)
	}
	return string(b), err
}

// roundAgent is what a round reads of its agent.
type roundAgent = agentWithPending

// notLoggedIn is what Claude Code shows when it runs without a usable key:
// the sign that "No" was picked.
const notLoggedIn = "Not logged in"

// pollAgent GETs agent id until done says so, or stepTimeout passes. It fails
// at once when the agent is in error or stopped, or shows notLoggedIn.
func (h *host) pollAgent(id, what string, done func(a roundAgent) bool) (roundAgent, error) {
	deadline := time.Now().Add(stepTimeout)
	var a roundAgent
	for {
		a = roundAgent{}
		code, err := h.doErr("GET", "/api/managed-agents/"+id, nil, &a)
		if err != nil {
			return a, err
		}
		if code != http.StatusOK {
			return a, fmt.Errorf("GET agent: status %d while waiting for %s", code, what)
		}
		if done(a) {
			return a, nil
		}
		if a.Status == "error" || a.Status == "stopped" {
			return a, fmt.Errorf("agent is %s while waiting for %s: %q", a.Status, what, a.Error)
		}
		if strings.Contains(a.Error, notLoggedIn) || (a.Pending != nil && strings.Contains(a.Pending.Question, notLoggedIn)) {
			return a, fmt.Errorf("agent shows %q while waiting for %s: %+v", notLoggedIn, what, a)
		}
		if time.Now().After(deadline) {
			return a, fmt.Errorf("no %s within %s; the agent: status %s, error %q, pending %+v", what, stepTimeout, a.Status, a.Error, a.Pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isAPIKeyQuestion says whether p is Claude Code's API key question.
func isAPIKeyQuestion(p *pending) bool {
	return p != nil && p.Type == "question" && strings.Contains(p.Question, "use this API key")
}

// choiceNumber is the number (from 1) of the choice whose text starts with
// label, or 0.
func choiceNumber(choices []string, label string) int {
	for i, c := range choices {
		if c == label || strings.HasPrefix(c, label+" ") {
			return i + 1
		}
	}
	return 0
}

// roundKey is a key unique to round i of a test, in its last 20
// characters too, which is what Claude Code remembers a key by.
func roundKey(test string, i int) string {
	return fmt.Sprintf("sk-ant-FAKE-parallax-%s-round-%02d-x9", test, i)
}

// replyRound sends a message to a ready agent and checks the reply is the
// fake model's text, and that the model saw the round's key.
func (h *host) replyRound(rec *keyRecorder, id, key string, round int) error {
	var r struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Error string `json:"error"`
	}
	code, err := h.doErr("POST", "/api/managed-agents/"+id+"/send", map[string]any{
		"message": fmt.Sprintf("round %d: say hello", round), "expectResponse": true, "timeout": stepTimeout.Seconds(),
	}, &r)
	switch {
	case err != nil:
		return err
	case code != http.StatusOK:
		return fmt.Errorf("send: status %d, error %q", code, r.Error)
	case strings.Contains(r.Message.Content, notLoggedIn):
		return fmt.Errorf("send: the reply says %q: the key was not taken: %q", notLoggedIn, r.Message.Content)
	case r.Message.Content != fakemodel.DefaultReply:
		return fmt.Errorf("send: reply %q, want %q", r.Message.Content, fakemodel.DefaultReply)
	}
	if n := rec.turnsWith(key); n == 0 {
		return errors.New("the reply came, but no model request carried the round's key")
	}
	// And the agent is back at its prompt, still fine, and its terminal
	// never said it was not logged in.
	var a roundAgent
	if _, err := h.doErr("GET", "/api/managed-agents/"+id, nil, &a); err != nil {
		return err
	}
	if a.Error != "" || a.Pending != nil {
		return fmt.Errorf("after the reply: error %q, pending %+v", a.Error, a.Pending)
	}
	if logs, err := h.agentLogs(id); err != nil {
		return err
	} else if strings.Contains(squeeze(logs), squeeze(notLoggedIn)) {
		return fmt.Errorf("the agent's terminal log shows %q", notLoggedIn)
	}
	return nil
}

// afterYes checks an agent that was answered Yes becomes ready and
// replies with the model's text.
func (h *host) afterYes(rec *keyRecorder, id, key string, round int) error {
	if _, err := h.pollAgent(id, "ready after answering Yes", func(a roundAgent) bool {
		return a.Status == "ready" && a.Pending == nil
	}); err != nil {
		return err
	}
	return h.replyRound(rec, id, key, round)
}

// keyAnswer says what Claude Code recorded about key: Yes, No or nothing.
func keyAnswer(dataDir, id, key string) string {
	approved, rejected, err := claudeKeyResponses(dataDir, id)
	last20 := key[len(key)-20:]
	switch {
	case err != nil:
		return "can't read the agent's .claude.json: " + err.Error()
	case slices.Contains(approved, last20) && slices.Contains(rejected, last20):
		return "claude recorded both Yes and No"
	case slices.Contains(approved, last20):
		return "claude recorded Yes"
	case slices.Contains(rejected, last20):
		return "claude recorded No"
	}
	return "claude recorded no answer"
}

// claudeKeyResponses reads what Claude Code recorded, in the agent's
// private home, about the keys it was asked to use.
func claudeKeyResponses(dataDir, id string) (approved, rejected []string, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "agents", id, "home", ".claude.json"))
	if err != nil {
		return nil, nil, err
	}
	var state struct {
		Responses struct {
			Approved []string `json:"approved"`
			Rejected []string `json:"rejected"`
		} `json:"customApiKeyResponses"`
	}
	if err := json.Unmarshal(b, &state); err != nil {
		return nil, nil, err
	}
	return state.Responses.Approved, state.Responses.Rejected, nil
}

// runRounds runs round(i) for i in [0, n), parallel at a time, and fails
// the test with the count of good rounds and each failure unless all pass.
// A round names its agent in *id, so a failure comes with what the host
// logged about that agent.
func runRounds(t *testing.T, h *host, n, parallel int, round func(i int, id *string) error) {
	t.Helper()
	start := time.Now()
	errs := make([]error, n)
	took := make([]time.Duration, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			var id string
			if err := round(i, &id); err != nil {
				errs[i] = fmt.Errorf("agent %s: %w; the host logged:\n%s", id, err, h.agentHistory(id))
			}
			took[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	select {
	case <-h.exited:
		t.Errorf("parallax-host exited during the rounds; its log ends:\n%s", logTail(h.logs(), 60))
	default:
	}
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		t.Logf("round %d failed after %s: %v", i, took[i].Round(time.Millisecond), err)
	}
	slowest := slices.Max(took)
	t.Logf("%d of %d rounds passed, %d at a time, in %s (slowest round %s)", ok, n, parallel,
		time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if ok != n {
		t.Errorf("%d of %d rounds passed; the failures are logged above", ok, n)
	}
}

// logTail is the last n lines of log.
func logTail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// agentHistory is what the host logged about agent id: its status
// changes, prompts and send troubles, one per line.
func (h *host) agentHistory(id string) string {
	var b strings.Builder
	for _, line := range strings.Split(h.logs(), "\n") {
		var e map[string]any
		if id == "" || json.Unmarshal([]byte(line), &e) != nil || e["agent"] != id {
			continue
		}
		ts, _ := e["@timestamp"].(string)
		if len(ts) > 23 {
			ts = ts[11:23]
		}
		fmt.Fprintf(&b, "\t%s %v", ts, e["@message"])
		for _, k := range []string{"from", "to", "reason", "prompt", "error"} {
			if v, ok := e[k]; ok {
				fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(v))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// startKeyRecordingHost starts a host whose claude agents talk to a fake model
// through a keyRecorder, and returns it with the recorder and its data dir.
func startKeyRecordingHost(t *testing.T) (*host, *keyRecorder, string) {
	bin := agentCLIs(t)
	model := fakemodel.NewAnthropic()
	t.Cleanup(model.Close)
	rec := newKeyRecorder(t, model)
	path := writeConfigWith(t, "", claudeType(bin, rec.URL))
	return startHost(t, path), rec, filepath.Join(filepath.Dir(path), "data")
}

// deleteRound stops agent id and checks it is gone.
func (h *host) deleteRound(id string) error {
	var v agent
	code, err := h.doErr("DELETE", "/api/managed-agents/"+id, nil, &v)
	if err != nil {
		return err
	}
	if code != http.StatusOK || v.Status != "stopped" {
		return fmt.Errorf("delete: status %d, agent %+v", code, v)
	}
	return nil
}

// spawnRound spawns an agent for one round.
func (h *host) spawnRound(req map[string]any) (agent, error) {
	var a agent
	code, err := h.doErr("POST", "/api/managed-agents", req, &a)
	if err == nil && code != http.StatusCreated {
		err = fmt.Errorf("spawn: status %d, %+v", code, a)
	}
	return a, err
}

// The key comes only in the spawn request's env, so pre-seeding can't
// approve it and Claude Code asks; the answer goes in through the API by
// the number of the "Yes" choice.
func TestRealCLI_ClaudeAPIKeyQuestionAnsweredYes20Times(t *testing.T) {
	h, rec, dataDir := startKeyRecordingHost(t)
	runRounds(t, h, apiKeyRounds, apiKeyParallel, func(i int, id *string) (err error) {
		key := roundKey("ask", i)
		a, err := h.spawnRound(map[string]any{"type": "claude", "workdir": t.TempDir(), "env": map[string]string{"ANTHROPIC_API_KEY": key}})
		if err != nil {
			return err
		}
		*id = a.ID
		defer func() {
			if derr := h.deleteRound(a.ID); err == nil {
				err = derr
			}
		}()

		q, err := h.pollAgent(a.ID, "the API key question", func(a roundAgent) bool {
			return isAPIKeyQuestion(a.Pending)
		})
		if err != nil {
			if q.Status == "ready" {
				return fmt.Errorf("the agent became ready without asking about the key: %w", err)
			}
			return err
		}
		yes := choiceNumber(q.Pending.Choices, "Yes")
		if yes == 0 || choiceNumber(q.Pending.Choices, "No") == 0 {
			return fmt.Errorf("the question's choices %q lack a Yes and a No", q.Pending.Choices)
		}
		var after agentWithPending
		code, err := h.doErr("POST", "/api/managed-agents/"+a.ID+"/answer", map[string]any{"choice": yes}, &after)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("answer %d: status %d, %+v", yes, code, after)
		}
		if err := h.afterYes(rec, a.ID, key, i); err != nil {
			return fmt.Errorf("%w (%s)", err, keyAnswer(dataDir, a.ID, key))
		}
		// Claude Code itself recorded the answer as Yes.
		if got := keyAnswer(dataDir, a.ID, key); got != "claude recorded Yes" {
			return fmt.Errorf("after answering %d: %s", yes, got)
		}
		return nil
	})
	if strings.Contains(h.logs(), notLoggedIn) {
		t.Errorf("the host's log mentions %q", notLoggedIn)
	}
}

// The key comes as a credential, so pre-seeding approves it and Claude
// Code goes straight to its prompt.
func TestRealCLI_ClaudePreseededKeyNeverAsks20Times(t *testing.T) {
	h, rec, _ := startKeyRecordingHost(t)
	runRounds(t, h, apiKeyRounds, apiKeyParallel, func(i int, id *string) (err error) {
		key := roundKey("seed", i)
		a, err := h.spawnRound(map[string]any{"type": "claude", "workdir": t.TempDir(), "credentials": map[string]string{"anthropicKey": key}})
		if err != nil {
			return err
		}
		*id = a.ID
		defer func() {
			if derr := h.deleteRound(a.ID); err == nil {
				err = derr
			}
		}()
		asked := false
		if _, err := h.pollAgent(a.ID, "ready", func(a roundAgent) bool {
			asked = asked || a.Pending != nil
			return a.Status == "ready" || a.Pending != nil
		}); err != nil {
			return err
		}
		if asked {
			return errors.New("the agent asked a question though its key was pre-seeded")
		}
		return h.replyRound(rec, a.ID, key, i)
	})
	if strings.Contains(h.logs(), notLoggedIn) {
		t.Errorf("the host's log mentions %q", notLoggedIn)
	}
}
