package events_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/redact"
)

// mapEvent is an event as the host sent it when data were maps.
type mapEvent struct {
	Event   string         `json:"event"`
	AgentID string         `json:"agentId,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	Time    time.Time      `json:"time"`
}

// TestJSONIsAsWithMaps: each event is sent with the same JSON as when its
// emitter built a map, each case here being what one put in it; and it
// reads back as it was.
func TestJSONIsAsWithMaps(t *testing.T) {
	at := time.Date(2025, 1, 1, 12, 0, 0, 123, time.UTC)
	tests := []struct {
		name  string
		agent string
		data  events.Data
		was   map[string]any
	}{
		{"agent_started by a spawn", "a1", events.AgentStartedData{Name: "n", Type: "claude", Runtime: "local", Pooled: new(false)},
			map[string]any{"name": "n", "type": "claude", "runtime": "local", "pooled": false}},
		{"agent_started into the pool", "a1", events.AgentStartedData{Type: "claude", Runtime: "local", Pooled: new(true)},
			map[string]any{"name": "", "type": "claude", "runtime": "local", "pooled": true}},
		{"agent_started from the pool", "a1", events.AgentStartedData{Name: "n", Type: "claude", Runtime: "local", FromPool: true},
			map[string]any{"name": "n", "type": "claude", "runtime": "local", "fromPool": true}},
		{"agent_ready", "a1", events.AgentReadyData{}, map[string]any{}},
		{"agent_stopped", "a1", events.AgentStoppedData{Reason: "exited", Code: 0},
			map[string]any{"reason": "exited", "code": 0, "signal": ""}},
		{"agent_stopped by a signal", "a1", events.AgentStoppedData{Reason: "killed", Code: -1, Signal: "SIGKILL"},
			map[string]any{"reason": "killed", "code": -1, "signal": "SIGKILL"}},
		{"agent_error", "a1", events.AgentErrorData{Error: "lost <with> its runtime & more"},
			map[string]any{"error": "lost <with> its runtime & more"}},
		{"login_required with a URL", "a1", events.LoginRequiredData{LoginURL: "https://x.example/?a=1&b=2", DeviceCode: "AB-12"},
			map[string]any{"loginUrl": "https://x.example/?a=1&b=2", "deviceCode": "AB-12"}},
		{"login_required with a message and a question", "a1",
			events.LoginRequiredData{Message: "run /login", Asked: &events.Asked{Question: "Log in?", Choices: []string{"Yes", "No"}, Selected: 1}},
			map[string]any{"loginUrl": "", "deviceCode": "", "message": "run /login", "question": "Log in?", "choices": []string{"Yes", "No"}, "selected": 1}},
		{"question", "a1", events.QuestionData{Asked: &events.Asked{Question: "Trust?", Choices: []string{"Yes", "No"}}},
			map[string]any{"question": "Trust?", "choices": []string{"Yes", "No"}, "selected": 0}},
		{"question without choices", "a1", events.QuestionData{Asked: &events.Asked{Question: "Name?", Selected: -1}},
			map[string]any{"question": "Name?", "choices": []string(nil), "selected": -1}},
		{"question with choices only", "a1", events.QuestionData{Asked: &events.Asked{Choices: []string{"1"}, Selected: -1}, Message: "pick"},
			map[string]any{"question": "", "choices": []string{"1"}, "selected": -1, "message": "pick"}},
		{"question unread", "a1", events.QuestionData{}, map[string]any{}},
		{"message", "a1", events.MessageData{Content: "a <b> & \"c\"\n", Role: "assistant", Time: at.Add(time.Hour).In(time.FixedZone("", 3600))},
			map[string]any{"content": "a <b> & \"c\"\n", "role": "assistant", "time": at.Add(time.Hour).In(time.FixedZone("", 3600))}},
		{"status", "a1", events.StatusData{From: "ready", To: "busy", Reason: "message sent"},
			map[string]any{"from": "ready", "to": "busy", "reason": "message sent"}},
		{"events_dropped", "", events.EventsDroppedData{Count: 3}, map[string]any{"count": 3}},
		{"agent_health, healthy", "r1", events.AgentHealthData{ID: "r1", Healthy: true, Source: "config"},
			map[string]any{"id": "r1", "healthy": true, "source": "config"}},
		{"agent_health, unhealthy", "r1", events.AgentHealthData{ID: "r1", Source: "etcd", Error: "connection refused"},
			map[string]any{"id": "r1", "healthy": false, "source": "etcd", "error": "connection refused"}},
		{"execution_started", "", events.ExecutionStartedData{ExecutionID: "x1", Pattern: "review"},
			map[string]any{"executionId": "x1", "pattern": "review"}},
		{"step_completed", "", events.StepCompletedData{ExecutionID: "x1", Pattern: "review", Step: "draft", Confidence: 0.85},
			map[string]any{"executionId": "x1", "pattern": "review", "step": "draft", "confidence": 0.85}},
		{"execution_completed", "", events.ExecutionCompletedData{ExecutionID: "x1", Pattern: "review", Confidence: 1},
			map[string]any{"executionId": "x1", "pattern": "review", "confidence": 1.0}},
		{"execution_failed", "", events.ExecutionFailedData{ExecutionID: "x1", Pattern: "review", Error: "step \"draft\" failed"},
			map[string]any{"executionId": "x1", "pattern": "review", "error": "step \"draft\" failed"}},
	}
	covered := map[events.Name]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.data.EventName()
			covered[name] = true
			e := events.New(tt.agent, tt.data)
			e.Time = at
			got, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(mapEvent{Event: string(name), AgentID: tt.agent, Data: tt.was, Time: at})
			// Keys may come in another order than a map's; a JSON object
			// has none.
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(want, &wantV)
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("JSON\n %s\nwant\n %s", got, want)
			}
			var back events.Event
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, e) {
				t.Errorf("read back as %#v, want %#v", back, e)
			}
		})
	}
	for _, d := range events.All() {
		if !covered[d.EventName()] {
			t.Errorf("no case for %s", d.EventName())
		}
	}
}

func TestAllHasEachEventOnce(t *testing.T) {
	seen := map[events.Name]bool{}
	for _, d := range events.All() {
		if n := d.EventName(); n == "" || seen[n] {
			t.Errorf("%T: name %q is empty or taken", d, n)
		}
		seen[d.EventName()] = true
	}
}

func TestUnknownEventsReadWithoutData(t *testing.T) {
	var e events.Event
	if err := json.Unmarshal([]byte(`{"event":"hello","agentId":"a1","data":{"x":1},"time":"2025-01-01T00:00:00Z"}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Event != "hello" || e.AgentID != "a1" || e.Data != nil || e.Time.IsZero() {
		t.Errorf("read %+v", e)
	}
	b, _ := json.Marshal(events.Event{Event: "hello"})
	if string(b) != `{"event":"hello","time":"0001-01-01T00:00:00Z"}` {
		t.Errorf("an event without data: %s", b)
	}
}

// fill sets every string of v to s, wherever it is.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf([]string{"x", s}).Convert(v.Type()))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s)
			}
		}
	}
}

// TestEveryDataIsMasked: masking, as the agents manager does it before
// publishing, leaves no secret in any event's JSON and keeps its type.
func TestEveryDataIsMasked(t *testing.T) {
	const key = "sk-ant-FAKE-events-0123456789"
	for _, d := range events.All() {
		p := reflect.New(reflect.TypeOf(d))
		fill(p.Elem(), "the key "+key)
		d = p.Elem().Interface().(events.Data)
		masked, ok := redact.Typed(d, []string{key}).(events.Data)
		if !ok || reflect.TypeOf(masked) != reflect.TypeOf(d) {
			t.Errorf("%s: masked into a %T", d.EventName(), masked)
			continue
		}
		b, err := json.Marshal(events.New("a1", masked))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), key) {
			t.Errorf("%s: the key is left in %s", d.EventName(), b)
		}
	}
}
