package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer serves handler as a WebSocket at every path, after checking the
// token header and that no Origin was sent.
func wsServer(t *testing.T, handler func(r *http.Request, c *websocket.Conn)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Get("token") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"missing or wrong bearer token"}`)
			return
		}
		if r.URL.Path == "/ws/agents/missing/terminal" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"agent not found: \"missing\""}`)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			t.Errorf("client sent Origin %q", o)
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		handler(r, c)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTerminalRelaysInputOutputAndResize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan string, 10)
	c := wsServer(t, func(r *http.Request, conn *websocket.Conn) {
		if r.URL.Path != "/ws/agents/a1/terminal" {
			t.Errorf("path %s", r.URL.Path)
		}
		_ = conn.Write(ctx, websocket.MessageBinary, []byte("replay$ "))
		for range 2 {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			got <- typ.String() + " " + string(b)
			// Echo input, as a terminal does.
			if typ == websocket.MessageBinary {
				_ = conn.Write(ctx, websocket.MessageBinary, b)
			}
		}
		// A large frame, over the library's default read limit.
		_ = conn.Write(ctx, websocket.MessageBinary, make([]byte, 100<<10))
		_ = conn.Close(websocket.StatusNormalClosure, "agent exited")
	})
	term, err := c.Terminal(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if b, err := term.Read(ctx); err != nil || string(b) != "replay$ " {
		t.Fatalf("first read %q, %v; want the replay", b, err)
	}
	if err := term.Resize(ctx, 120, 40); err != nil {
		t.Fatal(err)
	}
	var resize map[string]any
	if msg := <-got; json.Unmarshal([]byte(msg[len("MessageText "):]), &resize) != nil ||
		resize["type"] != "resize" || resize["cols"] != 120.0 || resize["rows"] != 40.0 {
		t.Errorf("resize sent as %q", msg)
	}
	if err := term.Write(ctx, []byte("ls\r")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; msg != "MessageBinary ls\r" {
		t.Errorf("input sent as %q", msg)
	}
	if b, err := term.Read(ctx); err != nil || string(b) != "ls\r" {
		t.Errorf("echo %q, %v", b, err)
	}
	if b, err := term.Read(ctx); err != nil || len(b) != 100<<10 {
		t.Errorf("large frame: %d bytes, %v", len(b), err)
	}
	if _, err := term.Read(ctx); err != io.EOF {
		t.Errorf("after a normal closure: %v, want io.EOF", err)
	}
}

func TestTerminalClosedBecauseTooSlow(t *testing.T) {
	c := wsServer(t, func(r *http.Request, conn *websocket.Conn) {
		_ = conn.Close(websocket.StatusPolicyViolation, "too slow")
	})
	term, err := c.Terminal(context.Background(), "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if _, err := term.Read(context.Background()); !errors.Is(err, ErrTooSlow) {
		t.Errorf("error %v, want ErrTooSlow", err)
	}
}

func TestTerminalErrorsBeforeUpgrade(t *testing.T) {
	c := wsServer(t, nil)
	_, err := c.Terminal(context.Background(), "missing")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Message != `agent not found: "missing"` {
		t.Errorf("error %v, want the 404's message", err)
	}
	c.token = "wrong"
	if _, err := c.Events(context.Background(), ""); !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("error %v, want a 401 APIError", err)
	}
}

func TestEventsDecodesEachEventUntilEOF(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := wsServer(t, func(r *http.Request, conn *websocket.Conn) {
		if got := r.URL.Query().Get("agentId"); got != "a1" {
			t.Errorf("agentId = %q", got)
		}
		for _, e := range []string{
			`{"event":"agent_started","agentId":"a1","time":"2026-01-02T03:04:05Z"}`,
			`{"event":"status","agentId":"a1","data":{"from":"starting","to":"ready"},"time":"2026-01-02T03:04:06Z"}`,
		} {
			_ = conn.Write(ctx, websocket.MessageText, []byte(e))
		}
		_ = conn.Close(websocket.StatusNormalClosure, "")
	})
	s, err := c.Events(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Next(ctx)
	if err != nil || e.Event != "agent_started" || e.AgentID != "a1" || e.Time.Second() != 5 {
		t.Fatalf("first event %+v, %v", e, err)
	}
	e, err = s.Next(ctx)
	if err != nil || e.Event != "status" || e.Data["to"] != "ready" || string(e.Raw) == "" {
		t.Fatalf("second event %+v, %v", e, err)
	}
	if _, err := s.Next(ctx); err != io.EOF {
		t.Errorf("after the stream: %v, want io.EOF", err)
	}
}

func TestEventsCancelled(t *testing.T) {
	c := wsServer(t, func(r *http.Request, conn *websocket.Conn) {
		<-conn.CloseRead(r.Context()).Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Events(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
