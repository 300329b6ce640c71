package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/agent/protocol"
)

// Agents is what the API needs of the managed agents.
type Agents interface {
	Spawn(ctx context.Context, req agents.SpawnRequest) (agents.View, error)
	Logs(id string, tail int, raw bool) ([]byte, error)
	Metrics(ctx context.Context, id string) (agents.Metrics, error)
	Watch(id string) (*agents.Watcher, error)
	Input(id string, p []byte) error
	Resize(id string, cols, rows int) error
	Get(id string) (agents.View, error)
	List(all bool) ([]agents.View, error)
	Live() []agents.View
	Messages(id string) ([]agents.Message, error)
	Delete(ctx context.Context, id string, opts agents.StopOptions) (agents.View, error)
	Send(ctx context.Context, id, text string, expectResponse bool, timeout time.Duration) (session.Message, error)
	Answer(id string, keys []string, choice int) error
	ProvideCredentials(ctx context.Context, id, apiKey string) (agents.View, error)
}

// Runtimes is what the API needs of the runtimes.
type Runtimes interface {
	// Statuses are those of the last periodic health check: a request
	// never makes the host call its plugins.
	Statuses() []runtimes.Status
}

// Options configure the API.
type Options struct {
	Logger   hclog.Logger
	Agents   Agents
	Runtimes Runtimes
	Bus      *events.Bus
	// Catalog holds the agents patterns pick from; nil makes an empty one.
	Catalog *catalog.Catalog
	// Patterns are the config's pattern blocks, by name; Executions runs
	// them.
	Patterns   map[string]config.Pattern
	Executions Executions
	// Metrics, if set, is served at GET /metrics (Prometheus).
	Metrics http.Handler
	// AgentProtocol, if set, serves the Agent protocol's HTTP form for
	// managed agents at /agent-protocol/<agent id>/…, the call's target
	// (protocol.Target) being the id.
	AgentProtocol http.Handler
	// Token, when set, is required as "Authorization: Bearer <token>", or
	// on WebSockets, which browsers can't give headers, as "?token=".
	Token string
	// AllowedOrigins are other sites' origins ("https://app.example.com")
	// whose pages may call the API. The host's own origin always may.
	AllowedOrigins []string
	// Hosts are names, beside IP addresses and localhost, that requests
	// may give as their Host; see guard.
	Hosts []string
	// MaxEventSubscribers bounds the /ws/events clients; 0 means no bound.
	MaxEventSubscribers int
	Version             string
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// route is one endpoint of the API.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes lists every endpoint; the OpenAPI document must describe each.
func (s *server) routes() []route {
	return []route{
		{"POST", "/api/managed-agents", s.spawn},
		{"GET", "/api/managed-agents", s.list},
		{"GET", "/api/managed-agents/{id}", s.get},
		{"DELETE", "/api/managed-agents/{id}", s.delete},
		{"POST", "/api/managed-agents/{id}/send", s.send},
		{"POST", "/api/managed-agents/{id}/answer", s.answer},
		{"POST", "/api/managed-agents/{id}/credentials", s.credentials},
		{"GET", "/api/managed-agents/{id}/logs", s.logs},
		{"GET", "/api/managed-agents/{id}/messages", s.messages},
		{"GET", "/api/managed-agents/{id}/metrics", s.metrics},
		{"POST", "/api/agents", s.registerAgent},
		{"GET", "/api/agents", s.listAgents},
		{"DELETE", "/api/agents/{id}", s.deregisterAgent},
		{"GET", "/api/patterns", s.listPatterns},
		{"POST", "/api/patterns/{name}/execute", s.executePattern},
		{"GET", "/api/executions/{id}", s.getExecution},
		{"GET", "/api/runtimes", s.runtimes},
		{"GET", "/api/health", s.health},
		{"GET", "/api/openapi.json", s.openapi},
		{"GET", "/ws/agents/{id}/terminal", s.terminal},
		{"GET", "/ws/events", s.events},
	}
}

// Handler returns the API's HTTP handler.
func Handler(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Bus == nil {
		opts.Bus = events.NewBus()
	}
	if opts.Catalog == nil {
		opts.Catalog = catalog.New(nil)
	}
	if opts.Executions == nil {
		opts.Executions = noPatterns{}
	}
	s := &server{opts: opts, started: time.Now(), guard: newGuard(opts.Hosts, opts.AllowedOrigins)}
	if opts.MaxEventSubscribers > 0 {
		s.eventSlots = make(chan struct{}, opts.MaxEventSubscribers)
	}
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.HandleFunc(r.method+" "+r.path, r.handler)
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no route %s %s; see GET /api/openapi.json", r.Method, r.URL.Path))
	}
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.AgentProtocol != nil {
		mux.HandleFunc("/agent-protocol/{id}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
			r2 := r.WithContext(protocol.WithTarget(r.Context(), r.PathValue("id")))
			r2.URL.Path = "/" + r.PathValue("rest")
			r2.URL.RawPath = ""
			opts.AgentProtocol.ServeHTTP(w, r2)
		})
	}
	mux.HandleFunc("/api/", notFound)
	mux.HandleFunc("/ws/", notFound)
	return liftReadDeadline(s.guard.wrap(s.auth(mux)))
}

type server struct {
	opts    Options
	started time.Time
	guard   *guard
	// eventSlots holds a token per /ws/events client; nil means no bound.
	eventSlots chan struct{}
}

// auth checks the bearer token, when one is configured.
func (s *server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if q := r.URL.Query().Get("token"); len(got) == 0 && q != "" && strings.HasPrefix(r.URL.Path, "/ws/") {
			got = []byte("Bearer " + q)
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parallax"`)
			writeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token: send \"Authorization: Bearer <server.token>\"")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) spawn(w http.ResponseWriter, r *http.Request) {
	var req agents.SpawnRequest
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	v, err := s.opts.Agents.Spawn(r.Context(), req)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all, err := queryBool(q.Get("all"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "all", "all: want true or false; ?all=true adds the agents that were deleted")
		return
	}
	list, err := s.opts.Agents.List(all)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	out := []agents.View{}
	for _, v := range list {
		if match(q.Get("status"), string(v.Status)) && match(q.Get("type"), v.Type) && match(q.Get("runtime"), v.Runtime) &&
			match(q.Get("pooled"), strconv.FormatBool(v.Pooled)) &&
			(q.Get("capability") == "" || slices.Contains(v.Capabilities, q.Get("capability"))) {
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func match(filter, value string) bool { return filter == "" || filter == value }

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	v, err := s.opts.Agents.Get(r.PathValue("id"))
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	force, err := queryBool(r.URL.Query().Get("force"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "force", "force: want true or false")
		return
	}
	purge, err := queryBool(r.URL.Query().Get("purge"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "purge", "purge: want true or false; ?purge=true also removes the agent's history")
		return
	}
	opts := agents.StopOptions{Force: force, Purge: purge}
	if t := r.URL.Query().Get("timeout"); t != "" {
		secs, err := strconv.ParseFloat(t, 64)
		// ParseFloat takes "NaN" and "Inf", and comparisons with NaN are
		// false: the range is written so that NaN fails it.
		if err != nil || !(secs >= 0 && secs <= 3600) {
			writeError(w, http.StatusBadRequest, "timeout", fmt.Sprintf("timeout: want a number of seconds from 0 to 3600, such as ?timeout=10; got %q", t))
			return
		}
		opts.Timeout = time.Duration(secs * float64(time.Second))
	}
	v, err := s.opts.Agents.Delete(r.Context(), r.PathValue("id"), opts)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type sendRequest struct {
	Message        string  `json:"message"`
	ExpectResponse bool    `json:"expectResponse"`
	Timeout        float64 `json:"timeout"` // seconds
}

const defaultSendTimeout = 5 * time.Minute

func (s *server) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	id := r.PathValue("id")
	if strings.TrimSpace(req.Message) == "" {
		writeError(w, http.StatusBadRequest, "message", "message: is required: the text to type to the agent")
		return
	}
	// Typed raw, a control character is a keystroke: Ctrl-C can end the
	// agent, ESC end the paste early.
	text, err := session.CleanText(req.Message)
	if err != nil {
		writeError(w, http.StatusBadRequest, "message", fmt.Sprintf(`message: %v: POST /api/managed-agents/%s/answer with {"keys":["CtrlC"]}`, err, id))
		return
	}
	// As in delete: written so that NaN fails too.
	if !(req.Timeout >= 0 && req.Timeout <= 3600) {
		writeError(w, http.StatusBadRequest, "timeout", "timeout: want a number of seconds from 0 to 3600")
		return
	}
	timeout := defaultSendTimeout
	if req.Timeout > 0 {
		timeout = time.Duration(req.Timeout * float64(time.Second))
	}
	msg, err := s.opts.Agents.Send(r.Context(), id, text, req.ExpectResponse, timeout)
	if errors.Is(err, session.ErrStopped) || errors.Is(err, session.ErrFailed) {
		s.writeExited(w, id, err)
		return
	}
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	if !req.ExpectResponse {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "sent"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
}

type answerRequest struct {
	Keys   []string `json:"keys"`
	Choice int      `json:"choice"`
}

func (s *server) answer(w http.ResponseWriter, r *http.Request) {
	var req answerRequest
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if (len(req.Keys) == 0) == (req.Choice <= 0) {
		writeError(w, http.StatusBadRequest, "keys", `send either "keys", such as ["Up","Enter"], or "choice", an option number from 1`)
		return
	}
	if err := s.opts.Agents.Answer(r.PathValue("id"), req.Keys, req.Choice); err != nil {
		s.writeAgentError(w, err)
		return
	}
	v, err := s.opts.Agents.Get(r.PathValue("id"))
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) credentials(w http.ResponseWriter, r *http.Request) {
	var req struct {
		APIKey string `json:"apiKey"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	v, err := s.opts.Agents.ProvideCredentials(r.Context(), r.PathValue("id"), req.APIKey)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tail := 0
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "tail", "tail: want a number of lines, such as ?tail=100")
			return
		}
		tail = n
	}
	raw, err := queryBool(q.Get("raw"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "raw", "raw: want true or false")
		return
	}
	out, err := s.opts.Agents.Logs(r.PathValue("id"), tail, raw)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	ct := "text/plain; charset=utf-8"
	if raw {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(out)
}

func (s *server) messages(w http.ResponseWriter, r *http.Request) {
	out, err := s.opts.Agents.Messages(r.PathValue("id"))
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func queryBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	return strconv.ParseBool(v)
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	m, err := s.opts.Agents.Metrics(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

var errTooLarge = fmt.Errorf("the request body is larger than %d bytes", maxBody)

func writeBodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "", err.Error())
		return
	}
	var ie *agents.InputError
	if errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, ie.Field, ie.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "", err.Error())
}

func (s *server) runtimes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Runtimes.Statuses())
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	healthy := 0
	sts := s.opts.Runtimes.Statuses()
	for _, st := range sts {
		if st.Healthy {
			healthy++
		}
	}
	status, code := "ok", http.StatusOK
	if healthy == 0 {
		status, code = "degraded", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{
		"status": status, "version": s.opts.Version, "uptime": time.Since(s.started).Milliseconds(),
		"runtimes": len(sts), "healthyRuntimes": healthy, "agents": len(s.opts.Agents.Live()),
	})
}

// writeExited answers 409 for an agent that stopped, before or during the
// call, with its exit when it has one: a caller wants to know how it
// ended, not that a write failed.
func (s *server) writeExited(w http.ResponseWriter, id string, err error) {
	body := errorBody{Error: err.Error()}
	if v, gerr := s.opts.Agents.Get(id); gerr == nil && v.Exit != nil {
		body.Exit = v.Exit
		body.Error += fmt.Sprintf("; it exited with code %d", v.Exit.Code)
		if v.Exit.Signal != "" {
			body.Error += " by " + v.Exit.Signal
		}
		if v.Exit.Reason != "" {
			body.Error += " (" + v.Exit.Reason + ")"
		}
	}
	writeJSON(w, http.StatusConflict, body)
}

// writeAgentError picks the status that fits an error from the agents.
func (s *server) writeAgentError(w http.ResponseWriter, err error) {
	var ie *agents.InputError
	var se *agents.SpawnError
	var le *agents.LimitError
	var pe *agents.PolicyError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Field, ie.Error())
	case errors.As(err, &le):
		writeError(w, http.StatusTooManyRequests, le.Setting, le.Error())
	case errors.As(err, &pe):
		writeError(w, http.StatusForbidden, pe.Field, pe.Error())
	case errors.Is(err, agents.ErrNotFound):
		writeError(w, http.StatusNotFound, "", err.Error())
	case errors.Is(err, session.ErrUnknownKey):
		writeError(w, http.StatusBadRequest, "keys", err.Error())
	case errors.Is(err, session.ErrNoSuchChoice):
		writeError(w, http.StatusBadRequest, "choice", err.Error())
	case errors.Is(err, session.ErrControlChar):
		writeError(w, http.StatusBadRequest, "message", "message: "+err.Error())
	case errors.Is(err, agents.ErrNoHistory):
		writeError(w, http.StatusNotImplemented, "", err.Error())
	case errors.Is(err, agents.ErrNoTerminal), errors.Is(err, agents.ErrPooled):
		writeError(w, http.StatusConflict, "", err.Error())
	case errors.Is(err, session.ErrBusy), errors.Is(err, session.ErrBlocked), errors.Is(err, session.ErrStopped),
		errors.Is(err, session.ErrFailed), errors.Is(err, session.ErrNoQuestion):
		writeError(w, http.StatusConflict, "", err.Error())
	case errors.Is(err, session.ErrNoReaction):
		writeError(w, http.StatusBadGateway, "", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "", "the agent did not answer in time: "+err.Error())
	case errors.Is(err, runtimes.ErrNoRuntime):
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
	case errors.As(err, &se) && se.Invalid:
		writeError(w, http.StatusBadRequest, "", err.Error())
	case errors.As(err, &se):
		writeError(w, http.StatusBadGateway, "", err.Error())
	default:
		s.opts.Logger.Error("request failed", "error", err)
		writeError(w, http.StatusInternalServerError, "", err.Error())
	}
}

// decodeJSON reads one JSON object, rejecting unknown fields so that typos
// don't pass silently.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var ie *agents.InputError
		var me *http.MaxBytesError
		switch {
		case errors.As(err, &ie):
			return ie
		case errors.As(err, &me):
			return errTooLarge
		case errors.Is(err, io.EOF):
			return errors.New("the request body is empty: send a JSON object")
		case errors.As(err, &se):
			return fmt.Errorf("the request body is not valid JSON (at byte %d): %v", se.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("the request body is not valid JSON: it ends too early")
		case errors.As(err, &te):
			return &agents.InputError{Field: te.Field, Msg: fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &agents.InputError{Field: field, Msg: "unknown field; check its spelling against the API reference"}
		}
		return fmt.Errorf("the request body is not valid: %v", err)
	}
	if dec.More() {
		return errors.New("the request body holds more than one JSON value")
	}
	return nil
}

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	// Exit is how the agent ended, for a call refused because it did.
	Exit *agents.Exit `json:"exit,omitempty"`
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, errorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
