package fakemodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
)

// Anthropic fakes the Anthropic Messages API for Claude Code. Point the
// agent at it with ANTHROPIC_BASE_URL=a.URL() and any ANTHROPIC_API_KEY.
//
// It answers HEAD / (Claude Code's connectivity check) with 200, and
// POST /v1/messages (with any query, e.g. ?beta=true) with a one-block text
// message: streamed as message_start, content_block_start,
// content_block_delta (text_delta) …, content_block_stop, message_delta
// (stop_reason end_turn, usage) and message_stop when the body says
// "stream":true, as one JSON message otherwise. POST
// /v1/messages/count_tokens gets a token count. With WithError, every
// message request gets that error instead. Anything else is a 404 that is
// recorded all the same.
type Anthropic struct {
	*Server
	ids atomic.Int64
}

// NewAnthropic starts the fake. Close it when done.
func NewAnthropic(opts ...Option) *Anthropic {
	a := &Anthropic{}
	a.Server = newServer(a.handle, opts)
	return a
}

type anthropicRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func (a *Anthropic) handle(s *Server, w http.ResponseWriter, r *http.Request, req *Request) {
	switch {
	case r.Method == http.MethodHead || (r.Method == http.MethodGet && r.URL.Path == "/"):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages/count_tokens":
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": len(req.Body) / 4})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		var in anthropicRequest
		if err := json.Unmarshal(req.Body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, anthropicError("invalid_request_error", err.Error()))
			return
		}
		req.Turn, req.Stream = true, in.Stream
		for i := len(in.Messages) - 1; i >= 0; i-- {
			if in.Messages[i].Role == "user" {
				req.UserText = textOf(in.Messages[i].Content)
				break
			}
		}
		s.received(req)
		if e := s.cfg.err; e != nil {
			if s.wait(r) {
				writeJSON(w, e.status, anthropicError(e.typ, e.message))
			}
			return
		}
		if in.Model == "" {
			in.Model = "claude-fake"
		}
		id := fmt.Sprintf("msg_fake_%04d", a.ids.Add(1))
		usage := map[string]any{"input_tokens": len(req.Body) / 4, "output_tokens": 0}
		if !in.Stream {
			if !s.wait(r) {
				return
			}
			text := s.cfg.reply(req.Body)
			usage["output_tokens"] = len(text)/4 + 1
			writeJSON(w, http.StatusOK, map[string]any{
				"id": id, "type": "message", "role": "assistant", "model": in.Model,
				"content":     []any{map[string]any{"type": "text", "text": text}},
				"stop_reason": "end_turn", "stop_sequence": nil, "usage": usage,
			})
			return
		}
		ev := startSSE(w)
		ev.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": in.Model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage,
		}})
		ev.event("ping", map[string]any{"type": "ping"})
		if !s.wait(r) {
			return
		}
		text := s.cfg.reply(req.Body)
		ev.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		for _, c := range chunks(text) {
			ev.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "text_delta", "text": c}})
		}
		ev.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
		ev.event("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": len(text)/4 + 1}})
		ev.event("message_stop", map[string]any{"type": "message_stop"})
	default:
		writeJSON(w, http.StatusNotFound, anthropicError("not_found_error", "fakemodel: no "+r.Method+" "+r.URL.Path))
	}
}

func anthropicError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
}
