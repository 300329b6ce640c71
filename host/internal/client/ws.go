package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"github.com/parallax/parallax/host/internal/events"
)

// readLimit bounds one WebSocket message from the host. The host sends
// terminal output in batches of up to 1 MiB, plus the replay.
const readLimit = 16 << 20

// ErrTooSlow means the host dropped a terminal connection that fell too
// far behind the agent's output. Connecting again redraws the screen.
var ErrTooSlow = errors.New("the host dropped this terminal connection: it fell too far behind the agent's output")

// dial opens a WebSocket to path. It sends the token as a header, not in
// the URL, and no Origin: the host accepts non-browser clients so.
func (c *Client) dial(ctx context.Context, path string, q url.Values) (*websocket.Conn, error) {
	h := http.Header{}
	c.authorize(h)
	conn, resp, err := websocket.Dial(ctx, c.url(path, q), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			body, _ := io.ReadAll(resp.Body)
			return nil, apiError(resp.StatusCode, body)
		}
		if resp != nil {
			return nil, fmt.Errorf("%s: the host did not accept the WebSocket: %v", path, err)
		}
		return nil, c.connError(ctx, err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// Terminal is a connection to an agent's terminal: read its output, type
// into it, resize it.
type Terminal struct {
	conn *websocket.Conn
}

// Terminal connects to agent id's terminal. The first output is a replay
// of recent output, enough to draw the screen as it is.
func (c *Client) Terminal(ctx context.Context, id string) (*Terminal, error) {
	conn, err := c.dial(ctx, "/ws/agents/"+url.PathEscape(id)+"/terminal", nil)
	if err != nil {
		return nil, err
	}
	return &Terminal{conn: conn}, nil
}

// Read returns the next chunk of output. It returns io.EOF once the agent
// exited, ErrTooSlow if the host dropped the connection. Cancelling ctx
// closes the connection.
func (t *Terminal) Read(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := t.conn.Read(ctx)
		if err != nil {
			return nil, closeError(ctx, err)
		}
		if typ == websocket.MessageBinary {
			return b, nil
		}
	}
}

// Write types p into the terminal.
func (t *Terminal) Write(ctx context.Context, p []byte) error {
	return t.conn.Write(ctx, websocket.MessageBinary, p)
}

// Resize sets the terminal's size.
func (t *Terminal) Resize(ctx context.Context, cols, rows int) error {
	b, err := json.Marshal(map[string]any{"type": "resize", "cols": cols, "rows": rows})
	if err != nil {
		return err
	}
	return t.conn.Write(ctx, websocket.MessageText, b)
}

// Close closes the connection. The agent keeps running.
func (t *Terminal) Close() error {
	return closeConn(t.conn)
}

// Event is one thing that happened to an agent. Raw is the JSON it was
// read from.
type Event struct {
	Event   events.Name    `json:"event"`
	AgentID string         `json:"agentId,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	Time    time.Time      `json:"time"`

	Raw json.RawMessage `json:"-"`
}

func (e *Event) UnmarshalJSON(b []byte) error {
	type fields Event
	if err := json.Unmarshal(b, (*fields)(e)); err != nil {
		return err
	}
	e.Raw = bytes.Clone(b)
	return nil
}

// EventStream receives events.
type EventStream struct {
	conn *websocket.Conn
}

// Events subscribes to the host's events: all of them, or agentID's only
// when it is not empty.
func (c *Client) Events(ctx context.Context, agentID string) (*EventStream, error) {
	q := url.Values{}
	if agentID != "" {
		q.Set("agentId", agentID)
	}
	conn, err := c.dial(ctx, "/ws/events", q)
	if err != nil {
		return nil, err
	}
	return &EventStream{conn: conn}, nil
}

// Next waits for the next event. It returns io.EOF when the host ended the
// stream normally. Cancelling ctx closes the stream.
func (s *EventStream) Next(ctx context.Context) (Event, error) {
	for {
		typ, b, err := s.conn.Read(ctx)
		if err != nil {
			return Event{}, closeError(ctx, err)
		}
		if typ != websocket.MessageText {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return Event{}, fmt.Errorf("the host sent an event that is not JSON: %v: %q", err, b)
		}
		return e, nil
	}
}

// Close ends the subscription.
func (s *EventStream) Close() error {
	return closeConn(s.conn)
}

// closeConn closes a connection with a normal closure. The library bounds
// the wait for the host's answer.
func closeConn(c *websocket.Conn) error {
	err := c.Close(websocket.StatusNormalClosure, "")
	if err == nil || websocket.CloseStatus(err) == websocket.StatusNormalClosure || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// closeError turns the error that ended a read into what a caller checks.
func closeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code == websocket.StatusNormalClosure:
		return io.EOF
	case errors.As(err, &ce) && ce.Code == websocket.StatusPolicyViolation && ce.Reason == "too slow":
		return ErrTooSlow
	case errors.As(err, &ce):
		if ce.Reason != "" {
			return fmt.Errorf("the host closed the connection: %s (status %d)", ce.Reason, ce.Code)
		}
		return fmt.Errorf("the host closed the connection (status %d)", ce.Code)
	}
	return fmt.Errorf("the connection to the host broke: %w", err)
}
