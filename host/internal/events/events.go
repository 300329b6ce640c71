// Package events carries what happens to agents (started, ready, a
// question, a reply…) from the sessions to whoever listens: the event
// WebSocket, tests, the pattern engine.
package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"time"
)

// Event is one thing that happened, as the API shows it.
type Event struct {
	Event   Name   `json:"event"`
	AgentID string `json:"agentId,omitempty"`
	// Data is the event's details, of the type its Name has, or nil.
	Data Data      `json:"data,omitempty"`
	Time time.Time `json:"time"`
}

// New returns the event d is the data of, about agent agentID ("" for
// none), to be stamped with the time when published.
func New(agentID string, d Data) Event {
	return Event{Event: d.EventName(), AgentID: agentID, Data: d}
}

// wire is an Event in JSON.
type wire struct {
	Event   Name            `json:"event"`
	AgentID string          `json:"agentId,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Time    time.Time       `json:"time"`
}

// MarshalJSON leaves out a data without any fields, as for the maps
// events carried before they had types. It is on the hot path of every
// event subscriber, so it writes the JSON by hand, compact, and the data
// as its type declares it: callers may send its bytes as they are.
func (e Event) MarshalJSON() ([]byte, error) {
	var data []byte
	if e.Data != nil {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(b, []byte("{}")) {
			data = b
		}
	}
	name, _ := json.Marshal(string(e.Event))
	at, err := e.Time.MarshalJSON()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 64+len(name)+len(e.AgentID)+len(data)+len(at))
	out = append(append(out, `{"event":`...), name...)
	if e.AgentID != "" {
		id, _ := json.Marshal(e.AgentID)
		out = append(append(out, `,"agentId":`...), id...)
	}
	if data != nil {
		out = append(append(out, `,"data":`...), data...)
	}
	out = append(append(out, `,"time":`...), at...)
	return append(out, '}'), nil
}

// dataTypes is the data type of each event name, for UnmarshalJSON.
var dataTypes = func() map[Name]reflect.Type {
	m := map[Name]reflect.Type{}
	for _, d := range All() {
		m[d.EventName()] = reflect.TypeOf(d)
	}
	return m
}()

// UnmarshalJSON reads the data into the type of the event's name; the
// data of a name this package doesn't know is left out.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{Event: w.Event, AgentID: w.AgentID, Time: w.Time}
	typ, ok := dataTypes[w.Event]
	if !ok {
		return nil
	}
	p := reflect.New(typ)
	if len(w.Data) > 0 && !bytes.Equal(w.Data, []byte("null")) {
		if err := json.Unmarshal(w.Data, p.Interface()); err != nil {
			return err
		}
	}
	e.Data = p.Elem().Interface().(Data)
	return nil
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
