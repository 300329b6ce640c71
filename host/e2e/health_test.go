package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

// A registered agent that stops answering is marked unhealthy, with an
// agent_health event, and comes back when it answers again.
func TestRegisteredAgentsAreHealthChecked(t *testing.T) {
	// A stand-in agent whose /health we switch on and off: the real
	// protocol server of sdk/agent runs in the examples' tests.
	var up = make(chan bool, 1)
	up <- true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := <-up
		up <- ok
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"healthy":false,"message":"down for the test"}`))
			return
		}
		_, _ = w.Write([]byte(`{"healthy":true,"message":"ready"}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	h := startHost(t, writeConfigServer(t, `  health_interval = "200ms"`, "", ""))
	if code := h.do("POST", "/api/agents", map[string]any{"id": "switchable", "endpoint": "http://" + ln.Addr().String()}, nil); code != 201 {
		t.Fatalf("register: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := h.dialWS(ctx, "/ws/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	next := func() map[string]any {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("events: %v", err)
			}
			var e struct {
				Event string         `json:"event"`
				Data  map[string]any `json:"data"`
			}
			if json.Unmarshal(b, &e) == nil && e.Event == "agent_health" {
				return e.Data
			}
		}
	}
	<-up
	up <- false
	if d := next(); d["healthy"] != false || d["error"] == nil {
		t.Errorf("agent_health when down: %v", d)
	}
	var list []struct {
		ID      string `json:"id"`
		Healthy bool   `json:"healthy"`
	}
	h.do("GET", "/api/agents?source=api", nil, &list)
	if len(list) != 1 || list[0].Healthy {
		t.Errorf("catalogue while down: %+v", list)
	}
	<-up
	up <- true
	if d := next(); d["healthy"] != true {
		t.Errorf("agent_health when back: %v", d)
	}
}
