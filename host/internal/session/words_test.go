package session

import (
	"testing"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
)

// The screen states that become a Prompt are named, in the API and in
// events, by the adapter's own word for them; Prompt.Type converts one to
// the other, so the two sets of words must not drift apart.
func TestPromptStatesAreEventNames(t *testing.T) {
	tests := []struct {
		state adapter.State
		event events.Name
	}{
		{adapter.StateQuestion, events.Question},
		{adapter.StateLoginRequired, events.LoginRequired},
	}
	for _, tt := range tests {
		if events.Name(tt.state) != tt.event {
			t.Errorf("adapter state %q is event %q: a Prompt of it would be mis-named", tt.state, tt.event)
		}
	}
}

// Status words are the API's: every one the session reports is live or
// an end, and only starting, ready and busy are live.
func TestStatusLive(t *testing.T) {
	tests := []struct {
		s    Status
		live bool
	}{
		{StatusStarting, true}, {StatusReady, true}, {StatusBusy, true},
		{StatusError, false}, {StatusStopped, false}, {"", false},
	}
	for _, tt := range tests {
		if got := tt.s.Live(); got != tt.live {
			t.Errorf("Status(%q).Live() = %v, want %v", tt.s, got, tt.live)
		}
	}
}
