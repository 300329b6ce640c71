package fakemodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Gemini fakes the Gemini API (generativelanguage, v1beta) for Gemini CLI.
// Point the agent at it with GOOGLE_GEMINI_BASE_URL=g.URL() and any
// GEMINI_API_KEY.
//
// POST /v1beta/models/<model>:streamGenerateContent?alt=sse is a turn: the
// reply streamed as server-sent events of GenerateContentResponse chunks,
// the last with finishReason STOP. POST …:generateContent answers in one
// JSON response: with the reply, or, when the request asks for JSON
// (generationConfig.responseMimeType "application/json", as Gemini CLI's
// model router and next-speaker check do), with a value of the requested
// schema whose enums take their first value ("flash", "user"). Such JSON
// requests are not turns. POST …:countTokens gets a count. With WithError,
// every turn gets the API's error body instead. Anything else is a 404.
type Gemini struct {
	*Server
}

// NewGemini starts the fake. Close it when done.
func NewGemini(opts ...Option) *Gemini {
	g := &Gemini{}
	g.Server = newServer(g.handle, opts)
	return g
}

type geminiRequest struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
	GenerationConfig struct {
		ResponseMimeType   string          `json:"responseMimeType"`
		ResponseSchema     json.RawMessage `json:"responseSchema"`
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
	} `json:"generationConfig"`
}

// userText is the text of the last user content that has any.
func (in geminiRequest) userText() string {
	for i := len(in.Contents) - 1; i >= 0; i-- {
		c := in.Contents[i]
		if c.Role != "user" {
			continue
		}
		var texts []string
		for _, p := range c.Parts {
			if p.Text != "" {
				texts = append(texts, p.Text)
			}
		}
		if len(texts) > 0 {
			return texts[len(texts)-1]
		}
	}
	return ""
}

func (g *Gemini) handle(s *Server, w http.ResponseWriter, r *http.Request, req *Request) {
	model, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1beta/models/"), ":")
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/v1beta/models/") || !ok {
		writeJSON(w, http.StatusNotFound, geminiError(http.StatusNotFound, "NOT_FOUND", "fakemodel: no "+r.Method+" "+r.URL.Path))
		return
	}
	var in geminiRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", err.Error()))
		return
	}
	switch method {
	case "countTokens":
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": len(req.Body) / 4})
	case "generateContent":
		if in.GenerationConfig.ResponseMimeType == "application/json" {
			schema := in.GenerationConfig.ResponseJSONSchema
			if len(schema) == 0 {
				schema = in.GenerationConfig.ResponseSchema
			}
			b, _ := json.Marshal(valueOf(schema))
			writeJSON(w, http.StatusOK, geminiResponse(model, string(b), true))
			return
		}
		req.Turn, req.UserText = true, in.userText()
		s.received(req)
		if !s.wait(r) {
			return
		}
		if e := s.cfg.err; e != nil {
			writeJSON(w, e.status, geminiError(e.status, e.typ, e.message))
			return
		}
		writeJSON(w, http.StatusOK, geminiResponse(model, s.cfg.reply(req.Body), true))
	case "streamGenerateContent":
		req.Turn, req.Stream, req.UserText = true, true, in.userText()
		s.received(req)
		if e := s.cfg.err; e != nil {
			if s.wait(r) {
				writeJSON(w, e.status, geminiError(e.status, e.typ, e.message))
			}
			return
		}
		ev := startSSE(w)
		if !s.wait(r) {
			return
		}
		parts := chunks(s.cfg.reply(req.Body))
		for i, c := range parts {
			ev.data(geminiResponse(model, c, i == len(parts)-1))
		}
	default:
		writeJSON(w, http.StatusNotFound, geminiError(http.StatusNotFound, "NOT_FOUND", "fakemodel: no method "+method))
	}
}

// geminiResponse is a GenerateContentResponse with text; last ends it.
func geminiResponse(model, text string, last bool) map[string]any {
	cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}
	out := map[string]any{"candidates": []any{cand}, "modelVersion": model}
	if last {
		cand["finishReason"] = "STOP"
		n := len(text)/4 + 1
		out["usageMetadata"] = map[string]any{"promptTokenCount": 1, "candidatesTokenCount": n, "totalTokenCount": n + 1}
	}
	return out
}

func geminiError(code int, status, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "status": status, "message": msg}}
}

// valueOf makes a value of a JSON schema, in the Gemini API's form (types
// in upper case) or in JSON Schema's: an enum's first value, "fake" for a
// string, 1 for a number, false, [] or an object of every property.
func valueOf(raw json.RawMessage) any {
	var sc struct {
		Type       string                     `json:"type"`
		Enum       []any                      `json:"enum"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &sc) != nil {
		return nil
	}
	if len(sc.Enum) > 0 {
		return sc.Enum[0]
	}
	switch strings.ToLower(sc.Type) {
	case "string":
		return "fake"
	case "number", "integer":
		return 1
	case "boolean":
		return false
	case "array":
		return []any{}
	}
	obj := map[string]any{}
	for name, p := range sc.Properties {
		obj[name] = valueOf(p)
	}
	return obj
}

// data writes one unnamed server-sent event, as the Gemini API streams.
func (s sse) data(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("fakemodel: ", err)) // only our own maps are marshalled
	}
	fmt.Fprintf(s.w, "data: %s\r\n\r\n", b)
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}
