package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/sdk/runtime"
)

// wsWriteTimeout bounds one write to a WebSocket client, so a client that
// stopped reading can't hold its handler forever.
const wsWriteTimeout = 30 * time.Second

// accept upgrades to a WebSocket. It refuses pages of other sites: the
// browser would send their requests with the user's credentials, and a
// terminal runs commands.
func (s *server) accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	if !s.guard.originAllowed(r) {
		writeError(w, http.StatusForbidden, "", fmt.Sprintf("Origin %q may not open this WebSocket: only the host's own pages and "+
			"server { allowed_origins } may", r.Header.Get("Origin")))
		return nil, errors.New("origin refused")
	}
	// The check above is stricter than the library's: scheme and port too.
	return websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
}

// resizeMsg is the one control message a terminal client sends.
type resizeMsg struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// terminalError is the text frame that answers a client's control
// message the host can't carry out.
type terminalError struct {
	Type  string `json:"type"` // "error"
	Error string `json:"error"`
}

// maxTermSize is the largest side agents.Manager.Resize takes.
const maxTermSize = 1000

// frameKind is what a client's frame to a terminal is.
type frameKind int

const (
	frameInput  frameKind = iota // typed into the agent as it is
	frameResize                  // a valid resize
	frameError                   // a control message that is malformed or unknown: answered, never typed
)

// looksLikeControl matches the start of a control message that isn't
// valid JSON, such as a resize cut short.
var looksLikeControl = regexp.MustCompile(`^\{\s*"type"\s*:`)

// classifyFrame sorts a client's frame. A text frame holding a JSON object
// with a "type" member, or starting like one, is a control message: a
// malformed one typed as keystrokes would land in the agent's prompt. Text
// that merely looks like JSON goes as a binary frame to be typed.
func classifyFrame(typ websocket.MessageType, data []byte) (frameKind, resizeMsg, string) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if typ != websocket.MessageText || len(trimmed) == 0 || trimmed[0] != '{' {
		return frameInput, resizeMsg{}, ""
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		if looksLikeControl.Match(trimmed) {
			return frameError, resizeMsg{}, "control message: not valid JSON; send {\"type\":\"resize\",\"cols\":N,\"rows\":M}"
		}
		return frameInput, resizeMsg{}, ""
	}
	rawType, ok := fields["type"]
	if !ok {
		return frameInput, resizeMsg{}, ""
	}
	var kind string
	if len(rawType) == 0 || rawType[0] != '"' || json.Unmarshal(rawType, &kind) != nil {
		return frameError, resizeMsg{}, "control message: type must be a string, such as \"resize\""
	}
	if kind != "resize" {
		return frameError, resizeMsg{}, fmt.Sprintf("control message: unknown type %q; the terminal takes {\"type\":\"resize\",\"cols\":N,\"rows\":M}, and text to type goes as a binary frame", kind)
	}
	m := resizeMsg{Type: kind}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"cols", &m.Cols}, {"rows", &m.Rows}} {
		raw, ok := fields[f.name]
		if !ok {
			return frameError, resizeMsg{}, fmt.Sprintf("resize: %s is missing; give a whole number from 1 to %d", f.name, maxTermSize)
		}
		// Digits only: 8e1, 80.0 and "80" are refused rather than guessed at.
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 1 || n > maxTermSize {
			return frameError, resizeMsg{}, fmt.Sprintf("resize: %s must be a whole number from 1 to %d, got %.40s", f.name, maxTermSize, raw)
		}
		*f.dst = n
	}
	return frameResize, m, ""
}

// terminal connects a WebSocket to an agent's terminal: output out as
// binary frames, input in, and resizes.
func (s *server) terminal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	watcher, err := s.opts.Agents.Watch(id)
	if err != nil {
		s.writeAgentError(w, err)
		return
	}
	defer watcher.Close()
	c, err := s.accept(w, r)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		defer cancel()
		s.terminalInput(ctx, c, id)
	}()

	// A dropped watcher lets the write under way finish, within
	// wsWriteTimeout: cut short, it would leave a frame half sent and the
	// connection broken, and the client would never get the close (1008)
	// that says why. Once it is done, Next returns ErrTooSlow. The drop is
	// logged at once, as that write may take a while.
	go func() {
		select {
		case <-watcher.Done():
			if errors.Is(watcher.Err(), agents.ErrTooSlow) {
				s.opts.Logger.Warn("dropped a terminal client that fell behind", "agent", id, "remote", r.RemoteAddr)
			}
		case <-ctx.Done():
		}
	}()
	out := watcher.Replay
	for {
		if len(out) > 0 {
			wctx, done := context.WithTimeout(ctx, wsWriteTimeout)
			err = c.Write(wctx, websocket.MessageBinary, out)
			done()
			if err != nil {
				break
			}
		}
		out, err = watcher.Next(ctx)
		if err != nil {
			break
		}
	}
	switch {
	case errors.Is(err, agents.ErrTooSlow):
		_ = c.Close(websocket.StatusPolicyViolation, "too slow")
	case errors.Is(err, agents.ErrAgentExited):
		_ = c.Close(websocket.StatusNormalClosure, "agent exited")
	}
}

// terminalInput passes what the client types to the agent until the
// client goes away.
func (s *server) terminalInput(ctx context.Context, c *websocket.Conn, id string) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		switch kind, m, problem := classifyFrame(typ, data); kind {
		case frameError:
			if !writeTerminalError(ctx, c, problem) {
				return
			}
			continue
		case frameResize:
			err := s.opts.Agents.Resize(id, m.Cols, m.Rows)
			// A runtime that can't resize ignores it, as documented.
			if err != nil && !errors.Is(err, runtime.ErrUnsupported) {
				s.opts.Logger.Debug("terminal resize failed", "agent", id, "error", err)
				if !writeTerminalError(ctx, c, "resize: "+err.Error()) {
					return
				}
			}
			continue
		}
		if err := s.opts.Agents.Input(id, data); err != nil {
			reason := "agent has no terminal"
			if errors.Is(err, agents.ErrPooled) {
				reason = "agent is idle in the warm pool: spawn one to take it"
			}
			_ = c.Close(websocket.StatusGoingAway, reason)
			return
		}
	}
}

// writeTerminalError tells a terminal client why its control message was
// not carried out; false if the connection failed.
func writeTerminalError(ctx context.Context, c *websocket.Conn, msg string) bool {
	b, err := json.Marshal(terminalError{Type: "error", Error: msg})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b) == nil
}

// eventBuffer is how many events a slow /ws/events client may fall behind
// before it misses some; it is told how many.
const eventBuffer = 4096

// events streams events, all or one agent's, as JSON text frames.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	agentID := r.URL.Query().Get("agentId")
	if agentID != "" {
		if _, err := s.opts.Agents.Get(agentID); err != nil {
			s.writeAgentError(w, err)
			return
		}
	}
	var since uint64
	resume := r.URL.Query().Has("since")
	if resume {
		n, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since", "since must be the seq of the last event you got (a whole number, 0 for all that are kept)")
			return
		}
		since = n
	}
	if s.eventSlots != nil {
		select {
		case s.eventSlots <- struct{}{}:
			defer func() { <-s.eventSlots }()
		default:
			le := &agents.LimitError{Setting: "server.max_event_subscribers", Limit: cap(s.eventSlots), What: "event stream clients"}
			writeError(w, http.StatusTooManyRequests, le.Setting, le.Error())
			return
		}
	}
	c, err := s.accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var filter func(events.Event) bool
	if agentID != "" {
		filter = func(e events.Event) bool { return e.AgentID == agentID }
	}
	sub := s.opts.Bus.Subscribe(eventBuffer, filter)
	defer sub.Close()

	ctx := c.CloseRead(r.Context())
	// Subscribed first, then the kept events up to now: what is published
	// in between comes both ways, and the seq sorts it out.
	last := since
	if resume {
		err := s.opts.Bus.Since(since, s.opts.Bus.Seq(), filter, func(e events.Event) error {
			if !writeEvent(ctx, c, e) {
				return ctx.Err()
			}
			last = e.Seq
			return nil
		})
		if err != nil {
			s.opts.Logger.Warn("replaying kept events failed", "since", since, "error", err)
			return
		}
	}
	dropped := 0
	for {
		var e events.Event
		select {
		case e = <-sub.C:
		case <-ctx.Done():
			return
		}
		if e.Seq != 0 && e.Seq <= last {
			continue
		}
		if d := sub.Dropped(); d > dropped {
			// Say so rather than leave a silent gap.
			gap := events.New("", events.EventsDroppedData{Count: d - dropped})
			gap.Time = time.Now().UTC()
			dropped = d
			if !writeEvent(ctx, c, gap) {
				return
			}
		}
		if !writeEvent(ctx, c, e) {
			return
		}
	}
}

func writeEvent(ctx context.Context, c *websocket.Conn, e events.Event) bool {
	// Not json.Marshal: it would check and compact what is compact already.
	b, err := e.MarshalJSON()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b) == nil
}
