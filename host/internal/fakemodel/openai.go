package fakemodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// OpenAIResponses fakes the OpenAI Responses API for Codex CLI. Point the
// agent at it with a model provider whose base_url is o.URL()+"/v1" and
// wire_api = "responses" (see CodexConfig).
//
// POST /v1/responses is answered with one assistant message streamed as
// response.created, response.in_progress, response.output_item.added,
// response.content_part.added, response.output_text.delta …,
// response.output_text.done, response.content_part.done,
// response.output_item.done and response.completed (with usage), or as one
// JSON response when the body doesn't ask for a stream; with WithError it
// gets that error instead. GET /v1/models lists one model. Anything else is a 404 that is recorded all the same.
type OpenAIResponses struct {
	*Server
	ids atomic.Int64
}

// NewOpenAIResponses starts the fake. Close it when done.
func NewOpenAIResponses(opts ...Option) *OpenAIResponses {
	o := &OpenAIResponses{}
	o.Server = newServer(o.handle, opts)
	return o
}

// CodexConfig is the config.toml fragment that makes Codex CLI use the
// fake as its model provider (named "fake", API key from OPENAI_API_KEY).
// It goes at the top of config.toml, before any table.
func (o *OpenAIResponses) CodexConfig() string {
	return fmt.Sprintf(`model_provider = "fake"

[model_providers.fake]
name = "fake"
base_url = "%s/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
`, o.URL())
}

type responsesRequest struct {
	Model  string          `json:"model"`
	Stream bool            `json:"stream"`
	Input  json.RawMessage `json:"input"`
}

// lastUserText finds the last user message in a Responses API input: a
// string, or a list of items like {"type":"message","role":"user",
// "content":[{"type":"input_text","text":…}]}.
func lastUserText(input json.RawMessage) string {
	var s string
	if json.Unmarshal(input, &s) == nil {
		return s
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(input, &items) != nil {
		return ""
	}
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].Role == "user" && (items[i].Type == "" || items[i].Type == "message") {
			return textOf(items[i].Content)
		}
	}
	return ""
}

func (o *OpenAIResponses) handle(s *Server, w http.ResponseWriter, r *http.Request, req *Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "fakemodel"},
		}})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
		var in responsesRequest
		if err := json.Unmarshal(req.Body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
				"type": "invalid_request_error", "message": err.Error()}})
			return
		}
		req.Turn, req.Stream = true, in.Stream
		req.UserText = lastUserText(in.Input)
		s.received(req)
		if e := s.cfg.err; e != nil {
			if s.wait(r) {
				writeJSON(w, e.status, map[string]any{"error": map[string]any{
					"message": e.message, "type": e.typ, "code": e.typ, "param": nil}})
			}
			return
		}
		if in.Model == "" {
			in.Model = "gpt-fake"
		}
		n := o.ids.Add(1)
		respID, msgID := fmt.Sprintf("resp_fake_%04d", n), fmt.Sprintf("msg_fake_%04d", n)
		resp := func(status string, output []any, usage any) map[string]any {
			return map[string]any{"id": respID, "object": "response", "created_at": time.Now().Unix(),
				"status": status, "model": in.Model, "output": output, "usage": usage}
		}
		message := func(status, text string) map[string]any {
			content := []any{}
			if status == "completed" {
				content = []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}
			}
			return map[string]any{"id": msgID, "type": "message", "status": status, "role": "assistant", "content": content}
		}
		usage := func(text string) map[string]any {
			in, out := len(req.Body)/4, len(text)/4+1
			return map[string]any{"input_tokens": in, "output_tokens": out, "total_tokens": in + out,
				"input_tokens_details":  map[string]any{"cached_tokens": 0},
				"output_tokens_details": map[string]any{"reasoning_tokens": 0}}
		}
		if !in.Stream {
			if !s.wait(r) {
				return
			}
			text := s.cfg.reply(req.Body)
			writeJSON(w, http.StatusOK, resp("completed", []any{message("completed", text)}, usage(text)))
			return
		}
		ev := startSSE(w)
		seq := 0
		send := func(typ string, fields map[string]any) {
			fields["type"], fields["sequence_number"] = typ, seq
			seq++
			ev.event(typ, fields)
		}
		send("response.created", map[string]any{"response": resp("in_progress", []any{}, nil)})
		send("response.in_progress", map[string]any{"response": resp("in_progress", []any{}, nil)})
		if !s.wait(r) {
			return
		}
		text := s.cfg.reply(req.Body)
		part := func(t string) map[string]any {
			return map[string]any{"type": "output_text", "text": t, "annotations": []any{}}
		}
		at := map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0}
		with := func(extra map[string]any) map[string]any {
			m := map[string]any{}
			for k, v := range at {
				m[k] = v
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		send("response.output_item.added", map[string]any{"output_index": 0, "item": message("in_progress", "")})
		send("response.content_part.added", with(map[string]any{"part": part("")}))
		for _, c := range chunks(text) {
			send("response.output_text.delta", with(map[string]any{"delta": c}))
		}
		send("response.output_text.done", with(map[string]any{"text": text}))
		send("response.content_part.done", with(map[string]any{"part": part(text)}))
		done := message("completed", text)
		send("response.output_item.done", map[string]any{"output_index": 0, "item": done})
		send("response.completed", map[string]any{"response": resp("completed", []any{done}, usage(text))})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"type": "not_found", "message": "fakemodel: no " + r.Method + " " + r.URL.Path}})
	}
}
