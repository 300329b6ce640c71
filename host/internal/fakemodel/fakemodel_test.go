package fakemodel

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// event is one server-sent event.
type event struct {
	name string
	data map[string]any
}

func readSSE(t *testing.T, r io.Reader) []event {
	t.Helper()
	var out []event
	var cur event
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("data of %s isn't JSON: %v", cur.name, err)
			}
		case line == "":
			if cur.name != "" {
				if cur.data["type"] != cur.name {
					t.Errorf("event %s has type %v", cur.name, cur.data["type"])
				}
				out = append(out, cur)
			}
			cur = event{}
		}
	}
	return out
}

func names(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.name)
	}
	return out
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAnthropicStream(t *testing.T) {
	a := NewAnthropic(WithReply(func(body []byte) string { return "one two three four" }))
	defer a.Close()

	head, err := http.Head(a.URL() + "/")
	if err != nil || head.StatusCode != 200 {
		t.Fatalf("HEAD /: %v %v", head, err)
	}
	resp := post(t, a.URL()+"/v1/messages?beta=true", `{"model":"claude-x","stream":true,"messages":[
		{"role":"user","content":"first"},
		{"role":"assistant","content":"ok"},
		{"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},{"type":"text","text":"Say hello"}]}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	evs := readSSE(t, resp.Body)
	want := "message_start ping content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names(evs), " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	var text strings.Builder
	for _, e := range evs {
		if e.name == "content_block_delta" {
			d := e.data["delta"].(map[string]any)
			if d["type"] != "text_delta" {
				t.Errorf("delta type %v", d["type"])
			}
			text.WriteString(d["text"].(string))
		}
	}
	if text.String() != "one two three four" {
		t.Errorf("streamed text %q", text.String())
	}
	if m := evs[0].data["message"].(map[string]any); m["model"] != "claude-x" || m["role"] != "assistant" {
		t.Errorf("message_start message %v", m)
	}
	md := evs[6].data
	if md["delta"].(map[string]any)["stop_reason"] != "end_turn" || md["usage"] == nil {
		t.Errorf("message_delta %v", md)
	}
	if a.TurnCount() != 1 || a.LastUserText() != "Say hello" {
		t.Errorf("turns %d, last user text %q", a.TurnCount(), a.LastUserText())
	}
	if r := a.Requests(); len(r) != 2 || r[0].Method != "HEAD" || r[1].Query != "beta=true" || !r[1].Stream {
		t.Errorf("requests %+v", r)
	}
}

func TestAnthropicJSONAndUnknown(t *testing.T) {
	a := NewAnthropic()
	defer a.Close()
	resp := post(t, a.URL()+"/v1/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"quota"}]}`)
	var msg struct {
		Type       string `json:"type"`
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || msg.StopReason != "end_turn" || len(msg.Content) != 1 || msg.Content[0].Text != DefaultReply {
		t.Errorf("message %+v", msg)
	}
	if r := post(t, a.URL()+"/v1/other", `{}`); r.StatusCode != 404 {
		t.Errorf("unknown path: %d", r.StatusCode)
	}
	if n := len(a.Requests()); n != 2 || a.TurnCount() != 1 {
		t.Errorf("%d requests, %d turns", n, a.TurnCount())
	}
}

func TestOpenAIResponsesStream(t *testing.T) {
	o := NewOpenAIResponses()
	defer o.Close()
	resp := post(t, o.URL()+"/v1/responses", `{"model":"gpt-x","stream":true,"input":[
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"Say hello"}]}]}`)
	evs := readSSE(t, resp.Body)
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.delta response.output_text.done response.content_part.done " +
		"response.output_item.done response.completed"
	if got := strings.Join(names(evs), " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	for i, e := range evs {
		if e.data["sequence_number"] != float64(i) {
			t.Errorf("%s sequence_number %v", e.name, e.data["sequence_number"])
		}
	}
	if evs[6].data["text"] != DefaultReply {
		t.Errorf("output_text.done %v", evs[6].data)
	}
	done := evs[9].data["response"].(map[string]any)
	if done["status"] != "completed" || done["usage"] == nil || len(done["output"].([]any)) != 1 {
		t.Errorf("response.completed %v", done)
	}
	if o.LastUserText() != "Say hello" {
		t.Errorf("last user text %q", o.LastUserText())
	}
	if !strings.Contains(o.CodexConfig(), `base_url = "`+o.URL()+`/v1"`) {
		t.Errorf("CodexConfig:\n%s", o.CodexConfig())
	}
}

func TestGateHoldsTurn(t *testing.T) {
	gate := make(chan struct{})
	o := NewOpenAIResponses(WithGate(gate), WithReply(func([]byte) string { return "late" }))
	defer o.Close()
	resp := post(t, o.URL()+"/v1/responses", `{"stream":true,"input":"hi"}`)
	got := make(chan []event)
	go func() { got <- readSSE(t, resp.Body) }()
	select {
	case <-got:
		t.Fatal("stream ended before the gate opened")
	case <-time.After(200 * time.Millisecond):
	}
	if r := o.Turns(); len(r) != 1 || r[0].Status != 0 || r[0].UserText != "hi" {
		t.Errorf("held turn not visible: %+v", r)
	}
	close(gate)
	evs := <-got
	if len(evs) != 9 || evs[5].name != "response.output_text.done" || evs[5].data["text"] != "late" {
		t.Errorf("after the gate: %v", names(evs))
	}
	if o.LastUserText() != "hi" {
		t.Errorf("last user text %q", o.LastUserText())
	}
}

func TestAnthropicError(t *testing.T) {
	const msg = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
	a := NewAnthropic(WithError(400, "invalid_request_error", msg))
	defer a.Close()
	if head, err := http.Head(a.URL() + "/"); err != nil || head.StatusCode != 200 {
		t.Fatalf("HEAD / isn't a turn and should still answer 200: %v %v", head, err)
	}
	for _, stream := range []string{"true", "false"} {
		resp := post(t, a.URL()+"/v1/messages?beta=true", `{"model":"m","stream":`+stream+`,"messages":[{"role":"user","content":"Say hello"}]}`)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("stream %s: status %d, Content-Type %q", stream, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var body struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.Type != "error" || body.Error.Type != "invalid_request_error" || body.Error.Message != msg {
			t.Errorf("stream %s: body %+v", stream, body)
		}
	}
	turns := a.Turns()
	if len(turns) != 2 || turns[0].Status != 400 || turns[0].UserText != "Say hello" || !turns[0].Stream {
		t.Errorf("turns %+v", turns)
	}
}

func TestOpenAIResponsesError(t *testing.T) {
	const msg = "You exceeded your current quota, please check your plan and billing details."
	gate := make(chan struct{})
	o := NewOpenAIResponses(WithError(429, "insufficient_quota", msg), WithGate(gate))
	defer o.Close()
	got := make(chan *http.Response)
	go func() {
		resp, err := http.Post(o.URL()+"/v1/responses", "application/json", strings.NewReader(`{"stream":true,"input":"hi"}`))
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	select {
	case <-got:
		t.Fatal("answered before the gate opened")
	case <-time.After(200 * time.Millisecond):
	}
	if r := o.Turns(); len(r) != 1 || r[0].Status != 0 || r[0].UserText != "hi" {
		t.Errorf("held turn not visible: %+v", r)
	}
	close(gate)
	resp := <-got
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("status %d", resp.StatusCode)
	}
	var body struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Message != msg || body.Error.Type != "insufficient_quota" || body.Error.Code != "insufficient_quota" {
		t.Errorf("body %+v", body)
	}
	if r := o.Turns(); len(r) != 1 || r[0].Status != 429 {
		t.Errorf("turns %+v", r)
	}
	// Requests that aren't turns are answered as usual.
	if r, err := http.Get(o.URL() + "/v1/models"); err != nil || r.StatusCode != 200 {
		t.Errorf("GET /v1/models: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}
