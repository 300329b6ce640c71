package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parallax/parallax/host/internal/events"
)

// BenchmarkEvents100Subscribers measures events delivered per second to
// 100 /ws/events clients at once, over real WebSockets on loopback. The
// agents are stubs: events are published straight onto the bus.
func BenchmarkEvents100Subscribers(b *testing.B) {
	const clients, perRound = 100, 2000
	bus := events.NewBus()
	srv := httptest.NewServer(Handler(Options{Agents: stubAgents{}, Runtimes: stubRuntimes{}, Bus: bus}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/events"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delivered, dropped atomic.Int64
	var ready sync.WaitGroup
	lastSeen := make([]chan struct{}, clients)
	ready.Add(clients)
	for i := range clients {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.CloseNow()
		lastSeen[i] = make(chan struct{}, 1)
		go func() {
			greeted := false
			for {
				_, p, err := c.Read(ctx)
				if err != nil {
					return
				}
				var e events.Event
				if json.Unmarshal(p, &e) != nil {
					continue
				}
				switch e.Event {
				case "hello":
					if !greeted {
						greeted = true
						ready.Done()
					}
				case "events_dropped":
					dropped.Add(int64(e.Data.(events.EventsDroppedData).Count))
				case "last":
					delivered.Add(1)
					lastSeen[i] <- struct{}{}
				default:
					delivered.Add(1)
				}
			}
		}()
	}
	// Every client is subscribed once it got a hello.
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	for waiting := true; waiting; {
		bus.Publish(events.Event{Event: "hello"})
		select {
		case <-allReady:
			waiting = false
		case <-time.After(10 * time.Millisecond):
		}
	}

	data := events.StatusData{From: "ready", To: "busy", Reason: "message sent"}
	start := time.Now()
	for range b.N {
		for range perRound - 1 {
			bus.Publish(events.New("a1", data))
		}
		bus.Publish(events.Event{Event: "last", AgentID: "a1"})
		for i := range clients {
			<-lastSeen[i]
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(dropped.Load()), "dropped")
	b.ReportMetric(0, "ns/op")
}
