package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/session"
)

// Client calls one parallax host. Its methods are safe to call
// concurrently.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the host at addr, such as
// "http://127.0.0.1:3000" or "127.0.0.1:3000". token, when not empty, is
// sent as "Authorization: Bearer <token>".
func New(addr, token string) (*Client, error) {
	if addr == "" {
		return nil, errors.New("no host address: want one such as http://127.0.0.1:3000")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("host address %q: %v", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("host address %q: want http://HOST:PORT or https://HOST:PORT", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, token: token, http: &http.Client{}}, nil
}

// Addr is the host's address, as a URL.
func (c *Client) Addr() string { return c.base.String() }

// APIError is an error response of the API: {"error": ..., "field": ...}.
type APIError struct {
	StatusCode int
	// Message is the server's "error".
	Message string
	// Field names the request field at fault, if one is.
	Field string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	// The server's messages usually start with the field already.
	if e.Field != "" && !strings.HasPrefix(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	return msg
}

// ConnError means the host could not be reached at all.
type ConnError struct {
	Addr string
	Err  error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach the parallax host at %s: %v", e.Addr, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Agent is a managed agent as the API shows it: the host's own type, so
// the two can't drift apart. Raw is the JSON it was read from, for callers
// that pass it on as is.
type Agent struct {
	agents.View
	Raw json.RawMessage `json:"-"`
}

func (a *Agent) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &a.View); err != nil {
		return err
	}
	a.Raw = bytes.Clone(b)
	return nil
}

// Pending is a question or login prompt the agent waits on.
type Pending = session.Prompt

// Exit is how an agent's process ended.
type Exit = agents.Exit

// SpawnRequest asks for a new managed agent.
type SpawnRequest struct {
	Name         string            `json:"name,omitempty"`
	Type         string            `json:"type"`
	Capabilities []string          `json:"capabilities,omitempty"`
	Role         string            `json:"role,omitempty"`
	Workdir      string            `json:"workdir,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	Credentials  *Credentials      `json:"credentials,omitempty"`
	Resources    *Resources        `json:"resources,omitempty"`
	Runtime      string            `json:"runtime,omitempty"`
	// Command is the argv of a custom agent.
	Command []string `json:"command,omitempty"`
}

// Credentials become the agent's API keys. They never come back in a
// response.
type Credentials struct {
	AnthropicKey string `json:"anthropicKey,omitempty"`
	OpenAIKey    string `json:"openaiKey,omitempty"`
	GoogleKey    string `json:"googleKey,omitempty"`
	GitHubToken  string `json:"githubToken,omitempty"`
}

// Resources limit an agent: CPU such as "500m", Memory such as "2Gi", and
// how long it may run.
type Resources struct {
	CPU     string        `json:"cpu,omitempty"`
	Memory  string        `json:"memory,omitempty"`
	Timeout time.Duration `json:"-"`
}

func (r Resources) MarshalJSON() ([]byte, error) {
	type fields Resources
	var timeout string
	if r.Timeout > 0 {
		timeout = r.Timeout.String()
	}
	return json.Marshal(struct {
		fields
		Timeout string `json:"timeout,omitempty"`
	}{fields(r), timeout})
}

// ListOptions filter List; empty fields match every agent.
type ListOptions struct {
	Status, Type, Runtime, Capability string
	// All adds the agents that were deleted, from the host's history.
	All bool
}

// SendRequest is a message for an agent.
type SendRequest struct {
	Message string
	// ExpectResponse waits for the agent's reply.
	ExpectResponse bool
	// Timeout bounds the wait for the reply; 0 is the server's default.
	Timeout time.Duration
}

// SendResult is the answer to Send: Message when the request expected a
// response, else Status "sent".
type SendResult struct {
	Status  string   `json:"status,omitempty"`
	Message *Message `json:"message,omitempty"`

	Raw json.RawMessage `json:"-"`
}

func (r *SendResult) UnmarshalJSON(b []byte) error {
	type fields SendResult
	if err := json.Unmarshal(b, (*fields)(r)); err != nil {
		return err
	}
	r.Raw = bytes.Clone(b)
	return nil
}

// Message is one message of an agent's conversation.
type Message struct {
	Content string    `json:"content"`
	Role    string    `json:"role"`
	Time    time.Time `json:"time"`
}

// LogOptions pick what Logs returns.
type LogOptions struct {
	// Tail is how many last lines; 0 means all the host keeps.
	Tail int
	// Raw returns the terminal's bytes, escape codes included.
	Raw bool
}

// Metrics are an agent's resource use. CPU and Memory are nil when the
// runtime has no stats.
type Metrics struct {
	CPU          *float64 `json:"cpu"`    // percent of one core
	Memory       *uint64  `json:"memory"` // bytes
	Uptime       int64    `json:"uptime"` // milliseconds
	MessageCount int64    `json:"messageCount"`

	Raw json.RawMessage `json:"-"`
}

func (m *Metrics) UnmarshalJSON(b []byte) error {
	type fields Metrics
	if err := json.Unmarshal(b, (*fields)(m)); err != nil {
		return err
	}
	m.Raw = bytes.Clone(b)
	return nil
}

// StopOptions tune Stop.
type StopOptions struct {
	// Force kills the agent at once.
	Force bool
	// Timeout is how long the agent may take to exit before it is killed;
	// 0 is the server's default.
	Timeout time.Duration
	// Purge removes the agent's history too.
	Purge bool
}

// Spawn starts a new agent and returns it, as it is while it starts.
func (c *Client) Spawn(ctx context.Context, req SpawnRequest) (Agent, error) {
	var a Agent
	err := c.do(ctx, "POST", "/api/managed-agents", nil, req, &a)
	return a, err
}

// List returns the agents that match opts.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]Agent, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": opts.Status, "type": opts.Type, "runtime": opts.Runtime, "capability": opts.Capability} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.All {
		q.Set("all", "true")
	}
	var as []Agent
	err := c.do(ctx, "GET", "/api/managed-agents", q, nil, &as)
	return as, err
}

// Get returns agent id.
func (c *Client) Get(ctx context.Context, id string) (Agent, error) {
	var a Agent
	err := c.do(ctx, "GET", agentPath(id), nil, nil, &a)
	return a, err
}

// Send types a message to agent id. With ExpectResponse it waits for the
// reply, so ctx should allow for req.Timeout.
func (c *Client) Send(ctx context.Context, id string, req SendRequest) (SendResult, error) {
	body := map[string]any{"message": req.Message}
	if req.ExpectResponse {
		body["expectResponse"] = true
	}
	if req.Timeout > 0 {
		body["timeout"] = req.Timeout.Seconds()
	}
	var r SendResult
	err := c.do(ctx, "POST", agentPath(id)+"/send", nil, body, &r)
	return r, err
}

// Logs returns agent id's recent output: lines of plain text, or with Raw
// the terminal's bytes.
func (c *Client) Logs(ctx context.Context, id string, opts LogOptions) ([]byte, error) {
	q := url.Values{}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	if opts.Raw {
		q.Set("raw", "true")
	}
	var out []byte
	err := c.do(ctx, "GET", agentPath(id)+"/logs", q, nil, &out)
	return out, err
}

// TranscriptEntry is one line of an agent's transcript: a message sent
// ("sent"), a reply ("reply"), a question ("question") or an answer
// ("answer").
type TranscriptEntry = agents.Message

// Messages returns agent id's transcript, oldest first.
func (c *Client) Messages(ctx context.Context, id string) ([]TranscriptEntry, []byte, error) {
	var raw []byte
	if err := c.do(ctx, "GET", agentPath(id)+"/messages", nil, nil, &raw); err != nil {
		return nil, nil, err
	}
	var out []TranscriptEntry
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, nil, fmt.Errorf("reading the transcript: %w", err)
	}
	return out, raw, nil
}

// Metrics returns agent id's resource use.
func (c *Client) Metrics(ctx context.Context, id string) (Metrics, error) {
	var m Metrics
	err := c.do(ctx, "GET", agentPath(id)+"/metrics", nil, nil, &m)
	return m, err
}

// Stop stops agent id and returns its last state.
func (c *Client) Stop(ctx context.Context, id string, opts StopOptions) (Agent, error) {
	q := url.Values{}
	if opts.Force {
		q.Set("force", "true")
	}
	if opts.Timeout > 0 {
		q.Set("timeout", strconv.FormatFloat(opts.Timeout.Seconds(), 'f', -1, 64))
	}
	if opts.Purge {
		q.Set("purge", "true")
	}
	var a Agent
	err := c.do(ctx, "DELETE", agentPath(id), q, nil, &a)
	return a, err
}

func agentPath(id string) string { return "/api/managed-agents/" + url.PathEscape(id) }

// url returns the address of path, which is escaped already, with query q.
func (c *Client) url(path string, q url.Values) string {
	u := c.base.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request with body as JSON (unless nil) and decodes a
// successful response into out: JSON, or the bytes as they are when out
// is a *[]byte.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.connError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return c.connError(ctx, err)
	}
	if resp.StatusCode >= 400 {
		return apiError(resp.StatusCode, b)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the host answered %d with a body that is not the JSON expected: %v", method, path, resp.StatusCode, err)
	}
	return nil
}

func (c *Client) authorize(h http.Header) {
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// connError wraps a transport error, unless it is ctx's own.
func (c *Client) connError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &ConnError{Addr: c.Addr(), Err: err}
}

// apiError reads an error response.
func apiError(status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: status, Message: e.Error, Field: e.Field}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{StatusCode: status, Message: fmt.Sprintf("HTTP %d: %s", status, msg)}
}
