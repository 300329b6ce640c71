// Package events carries what happens to agents (started, ready, a
// question, a reply…) from the sessions to whoever listens: the event
// WebSocket, tests, the pattern engine.
package events

import (
	"sync"
	"time"
)

// Event is one thing that happened, as the API shows it.
type Event struct {
	Event   string         `json:"event"`
	AgentID string         `json:"agentId,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	Time    time.Time      `json:"time"`
}

// Bus fans events out to subscribers. Publishing never blocks: a
// subscriber that doesn't keep up loses events, and learns how many from
// its Dropped count, rather than stalling every agent.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Subscription receives events on C until Close.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	filter  func(Event) bool
	bus     *Bus
	mu      sync.Mutex
	dropped int
}

// Subscribe returns a subscription with room for buffer events; filter,
// if not nil, picks the events it gets.
func (b *Bus) Subscribe(buffer int, filter func(Event) bool) *Subscription {
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, filter: filter, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
}

// Dropped says how many events the subscriber missed by being slow.
func (s *Subscription) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Publish sends e to every subscriber that wants it.
func (b *Bus) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.filter != nil && !s.filter(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.mu.Lock()
			s.dropped++
			s.mu.Unlock()
		}
	}
}
