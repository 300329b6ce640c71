package events

import "testing"

func TestBusFiltersAndNeverBlocks(t *testing.T) {
	b := NewBus()
	all := b.Subscribe(10, nil)
	onlyA := b.Subscribe(10, func(e Event) bool { return e.AgentID == "a" })
	slow := b.Subscribe(1, nil)

	for _, id := range []string{"a", "b", "a"} {
		b.Publish(Event{Event: "message", AgentID: id})
	}
	if len(all.C) != 3 || len(onlyA.C) != 2 || len(slow.C) != 1 {
		t.Fatalf("queued %d, %d, %d; want 3, 2, 1", len(all.C), len(onlyA.C), len(slow.C))
	}
	if slow.Dropped() != 2 || all.Dropped() != 0 {
		t.Errorf("dropped %d (slow), %d (all); want 2, 0", slow.Dropped(), all.Dropped())
	}
	if e := <-all.C; e.Time.IsZero() {
		t.Error("Publish did not stamp the time")
	}
	all.Close()
	all.Close() // twice is fine
	b.Publish(Event{Event: "after close"})
	n := 0
	for e := range all.C { // ends: Close closed the channel
		if e.Event == "after close" {
			t.Error("a closed subscription still receives")
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d events left after Close, want the 2 queued before", n)
	}
}
