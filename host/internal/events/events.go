// Package events carries what happens to agents (started, ready, a
// question, a reply…) from the sessions to whoever listens: the event
// WebSocket, tests, the pattern engine.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"
)

// Event is one thing that happened, as the API shows it.
type Event struct {
	// Seq numbers the events a host published, across its restarts, so a
	// client that reconnects can ask for what it missed; 0 for an event
	// that was never published, such as events_dropped.
	Seq     uint64 `json:"seq,omitempty"`
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
	Seq     uint64          `json:"seq,omitempty"`
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
	out := make([]byte, 0, 84+len(name)+len(e.AgentID)+len(data)+len(at))
	out = append(out, '{')
	if e.Seq != 0 {
		out = strconv.AppendUint(append(out, `"seq":`...), e.Seq, 10)
		out = append(out, ',')
	}
	out = append(append(out, `"event":`...), name...)
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
	*e = Event{Seq: w.Seq, Event: w.Event, AgentID: w.AgentID, Time: w.Time}
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
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	seq     uint64
	journal Journal
}

// Journal keeps the events a Bus publishes, so that they outlive the host
// and a client can ask for those it missed. AppendEvent must not wait on
// the disk: it runs under the Bus's lock, on every agent's hot path.
type Journal interface {
	LastEventSeq() uint64
	AppendEvent(seq uint64, at time.Time, raw []byte)
	EventsSince(seq uint64, fn func(seq uint64, raw []byte) error) error
}

// SetJournal makes b number its events after the journal's last and keep
// them there. Call it before anything publishes.
func (b *Bus) SetJournal(j Journal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.journal, b.seq = j, j.LastEventSeq()
}

// Seq is the number of the last event published.
func (b *Bus) Seq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// Since calls fn with every kept event numbered above seq and at most up
// to, in order, as filter picks them. Without a journal there are none.
func (b *Bus) Since(seq, upTo uint64, filter func(Event) bool, fn func(Event) error) error {
	b.mu.Lock()
	j := b.journal
	b.mu.Unlock()
	if j == nil || seq >= upTo {
		return nil
	}
	errStop := errors.New("stop")
	err := j.EventsSince(seq, func(n uint64, raw []byte) error {
		if n > upTo {
			return errStop
		}
		var e Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("event %d in the journal: %w", n, err)
		}
		if filter != nil && !filter(e) {
			return nil
		}
		return fn(e)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
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
	b.seq++
	e.Seq = b.seq
	if b.journal != nil {
		if raw, err := e.MarshalJSON(); err == nil {
			b.journal.AppendEvent(e.Seq, e.Time, raw)
		}
	}
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
