package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/events"
)

// wsWriteTimeout bounds one write to a WebSocket client, so a client that
// stopped reading can't hold its handler forever.
const wsWriteTimeout = 30 * time.Second

// accept upgrades to a WebSocket. It refuses pages of other sites: the
// browser would send their requests with the user's credentials, and a
// terminal runs commands.
func (s *server) accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	return websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.opts.AllowedOrigins})
}

// resizeMsg is the one control message a terminal client sends.
type resizeMsg struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
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

	// A dropped watcher must not wait on a write to the client that is
	// too slow: that is why it was dropped.
	writeCtx, stopWrites := context.WithCancel(ctx)
	defer stopWrites()
	go func() {
		select {
		case <-watcher.Done():
			stopWrites()
		case <-writeCtx.Done():
		}
	}()
	out := watcher.Replay
	for {
		if len(out) > 0 {
			wctx, done := context.WithTimeout(writeCtx, wsWriteTimeout)
			err = c.Write(wctx, websocket.MessageBinary, out)
			done()
			if err != nil {
				if werr := watcher.Err(); werr != nil {
					err = werr // the write was cut short because of it
				}
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
		s.opts.Logger.Warn("dropped a terminal client that fell behind", "agent", id, "remote", r.RemoteAddr)
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
		if typ == websocket.MessageText && len(data) > 0 && data[0] == '{' {
			var m resizeMsg
			if json.Unmarshal(data, &m) == nil && m.Type == "resize" {
				if err := s.opts.Agents.Resize(id, m.Cols, m.Rows); err != nil {
					s.opts.Logger.Debug("terminal resize failed", "agent", id, "error", err)
				}
				continue
			}
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
	dropped := 0
	for {
		var e events.Event
		select {
		case e = <-sub.C:
		case <-ctx.Done():
			return
		}
		if d := sub.Dropped(); d > dropped {
			// Say so rather than leave a silent gap.
			gap := events.Event{Event: "events_dropped", Data: map[string]any{"count": d - dropped}, Time: time.Now().UTC()}
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
	b, err := json.Marshal(e)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b) == nil
}
