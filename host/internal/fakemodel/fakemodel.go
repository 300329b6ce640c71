// Package fakemodel fakes the model APIs the agent CLIs talk to, which
// can't be reached from tests: an Anthropic Messages API for Claude Code,
// an OpenAI Responses API for Codex CLI and the Gemini API for Gemini CLI.
// Each fake is an HTTP server on 127.0.0.1 that answers every turn with a
// configurable text, streamed in
// the API's own server-sent-event format, and records what it was asked so
// tests can assert on it. They are fakes, not simulators: no tools, no
// token counting, no errors unless a test asks for them (WithError).
package fakemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// DefaultReply is what a fake answers when no Reply func is set.
const DefaultReply = "Hello from the fake model."

// Request is one HTTP request a fake received.
type Request struct {
	Method string
	// Path is the URL path without the query.
	Path  string
	Query string
	Body  []byte
	// Turn is true for a model request (a message or a response to
	// generate), false for anything else (HEAD /, model lists, ...).
	Turn bool
	// Stream is true when the request asked for a streamed answer.
	Stream bool
	// UserText is the text of the last user message, for a turn.
	UserText string
	// Status is what the fake answered with, or 0 while it still answers.
	Status int

	logged bool
}

// Option configures a fake.
type Option func(*config)

type config struct {
	reply func(body []byte) string
	delay time.Duration
	gate  <-chan struct{}
	logf  func(format string, args ...any)
	err   *apiError
}

// apiError is what WithError makes every turn fail with.
type apiError struct {
	status       int
	typ, message string
}

// WithReply sets the text every turn is answered with; it gets the
// request's JSON body. The default answers DefaultReply.
func WithReply(f func(body []byte) string) Option {
	return func(c *config) { c.reply = f }
}

// WithDelay makes every turn wait d after the stream's first event before
// it sends the text, so the agent stays busy that long.
func WithDelay(d time.Duration) Option {
	return func(c *config) { c.delay = d }
}

// WithGate makes every turn wait, after the stream's first event, until
// gate is closed (or the client goes away). It holds an agent busy for as
// long as a test needs.
func WithGate(gate <-chan struct{}) Option {
	return func(c *config) { c.gate = gate }
}

// WithError makes every turn fail at the API: after the delay or gate,
// if any, the fake answers with HTTP status and the API's own error body
// instead of a message, whether or not the turn asked for a stream. The
// Anthropic fake answers {"type":"error","error":{"type":errType,
// "message":message}}; the OpenAI fake answers {"error":{"message":message,
// "type":errType,"code":errType}}. For example, what each answers an
// account out of credit:
//
//	NewAnthropic(WithError(400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."))
//	NewOpenAIResponses(WithError(429, "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."))
//
// Requests that aren't turns (HEAD /, model lists) are answered as usual.
func WithError(status int, errType, message string) Option {
	return func(c *config) { c.err = &apiError{status: status, typ: errType, message: message} }
}

// WithLog logs every request the fake receives, e.g. with t.Logf.
func WithLog(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Server is what both fakes share: the listener, the options and the
// request log. Its methods are safe to call while it serves.
type Server struct {
	cfg  config
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*Request
}

func newServer(h func(s *Server, w http.ResponseWriter, r *http.Request, req *Request), opts []Option) *Server {
	s := &Server{}
	s.cfg.reply = func([]byte) string { return DefaultReply }
	for _, o := range opts {
		o(&s.cfg)
	}
	// httptest.NewServer listens on 127.0.0.1 only.
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// h fills in req as it parses the request, then calls
		// s.received(req), so a turn held by a gate is visible at once.
		req := &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(s, sw, r, req)
		s.mu.Lock()
		req.Status = sw.status
		if !req.logged {
			s.reqs = append(s.reqs, req)
		}
		s.mu.Unlock()
		if s.cfg.logf != nil {
			s.cfg.logf("fakemodel: %s %s?%s turn=%v stream=%v user=%q -> %d body=%s",
				r.Method, r.URL.Path, r.URL.RawQuery, req.Turn, req.Stream, clip([]byte(req.UserText), 200), req.Status, clip(body, 300))
		}
	}))
	return s
}

// received records a request before its answer is complete.
func (s *Server) received(req *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req.logged = true
	s.reqs = append(s.reqs, req)
}

// wait holds a turn for the configured delay or gate. It reports false
// when the client went away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	if s.cfg.delay > 0 {
		select {
		case <-time.After(s.cfg.delay):
		case <-r.Context().Done():
			return false
		}
	}
	if s.cfg.gate != nil {
		select {
		case <-s.cfg.gate:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

// URL is the server's base URL, http://127.0.0.1:PORT, without a path.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down, ending streams still open.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns every request received so far, in order, turns still
// being answered included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
	}
	return out
}

// Turns returns the model requests received so far, in order.
func (s *Server) Turns() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Turn {
			out = append(out, r)
		}
	}
	return out
}

// TurnCount is how many model requests were received.
func (s *Server) TurnCount() int { return len(s.Turns()) }

// UserTexts lists the last user message of every model request so far.
// An agent may send requests of its own (Codex asks for a session title
// with the user's first message), so look for the text among these.
func (s *Server) UserTexts() []string {
	var out []string
	for _, r := range s.Turns() {
		out = append(out, r.UserText)
	}
	return out
}

// LastUserText is the last user message of the last model request, or "".
func (s *Server) LastUserText() string {
	t := s.Turns()
	if len(t) == 0 {
		return ""
	}
	return t[len(t)-1].UserText
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// sse writes server-sent events, flushing after each.
type sse struct {
	w http.ResponseWriter
}

func startSSE(w http.ResponseWriter) sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	return sse{w: w}
}

func (s sse) event(name string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err) // only our own maps are marshalled
	}
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b)
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// chunks splits a reply into a few deltas, as a real stream would send it.
func chunks(text string) []string {
	words := strings.SplitAfter(text, " ")
	var out []string
	for i := 0; i < len(words); i += 3 {
		out = append(out, strings.Join(words[i:min(i+3, len(words))], ""))
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// textOf reads the text out of a message content that is either a string
// or a list of typed blocks ({"type":"text","text":…} and the like): the
// last text block, as agents put context blocks before the user's words.
func textOf(content json.RawMessage) string {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(content, &blocks) != nil {
		return ""
	}
	last := ""
	for _, b := range blocks {
		if b.Text != "" && (b.Type == "text" || b.Type == "input_text") {
			last = b.Text
		}
	}
	return last
}
