package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// fixedRuntimes offers the same candidates for every spawn, in order.
type fixedRuntimes struct{ cands []runtimes.Candidate }

func (f fixedRuntimes) Candidates(name string) ([]runtimes.Candidate, error) {
	if name == "" {
		return f.cands, nil
	}
	for _, c := range f.cands {
		if c.Name == name {
			return []runtimes.Candidate{c}, nil
		}
	}
	return nil, fmt.Errorf("%w %q", runtimes.ErrUnknownRuntime, name)
}

func (f fixedRuntimes) Get(name string) (runtimes.Plugin, error) {
	for _, c := range f.cands {
		if c.Name == name {
			return c.Plugin, nil
		}
	}
	return nil, runtimes.ErrUnknownRuntime
}

func (fixedRuntimes) Kick(string) {}

func candidate(t *testing.T, r *fakeruntime.Runtime) runtimes.Candidate {
	c := plugin.TestClient(t, r)
	if err := c.Configure(context.Background(), runtime.ConfigureRequest{Config: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	return runtimes.Candidate{Name: r.Name, Plugin: c}
}

var spawnReq = SpawnRequest{Type: "custom", Command: []string{"sleep", "60"}}

func TestSpawnFallsThroughToTheNextRuntime(t *testing.T) {
	tests := []struct {
		name        string
		firstErr    error
		secondErr   error
		wantRuntime string
		wantInvalid bool
		wantErr     bool
	}{
		{"first works", nil, nil, "first", false, false},
		{"first fails, second works", errors.New("engine down"), nil, "second", false, false},
		{"both fail", errors.New("engine down"), errors.New("no space"), "", false, true},
		{"both call the spec invalid", fmt.Errorf("%w: no such command", runtime.ErrInvalidSpec), fmt.Errorf("%w: no such image", runtime.ErrInvalidSpec), "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := &fakeruntime.Runtime{Name: "first", StartErr: tt.firstErr}
			second := &fakeruntime.Runtime{Name: "second", StartErr: tt.secondErr}
			m := NewManager(hclog.NewNullLogger(), fixedRuntimes{[]runtimes.Candidate{candidate(t, first), candidate(t, second)}}, Options{})
			t.Cleanup(func() { m.Shutdown(context.Background()) })

			v, err := m.Spawn(context.Background(), spawnReq)
			if tt.wantErr {
				var se *SpawnError
				if !errors.As(err, &se) || se.Invalid != tt.wantInvalid {
					t.Fatalf("Spawn error = %v; want a SpawnError with Invalid=%t", err, tt.wantInvalid)
				}
				if !strings.Contains(err.Error(), "first:") || !strings.Contains(err.Error(), "second:") {
					t.Errorf("the error should say why each runtime failed: %v", err)
				}
				if len(m.Live()) != 0 {
					t.Errorf("a failed spawn left an agent: %+v", m.Live())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Runtime != tt.wantRuntime {
				t.Errorf("agent on %q; want %q", v.Runtime, tt.wantRuntime)
			}
			waitStatus(t, m, v.ID, session.StatusReady)
		})
	}
}

func TestDeleteStopsThroughTheRuntimeAndForgets(t *testing.T) {
	tests := []struct {
		force      bool
		wantSignal string
	}{
		{false, "SIGTERM"},
		{true, "SIGKILL"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("force=", tt.force), func(t *testing.T) {
			fake := &fakeruntime.Runtime{Name: "fake"}
			m := NewManager(hclog.NewNullLogger(), fixedRuntimes{[]runtimes.Candidate{candidate(t, fake)}}, Options{})
			t.Cleanup(func() { m.Shutdown(context.Background()) })
			v, err := m.Spawn(context.Background(), spawnReq)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Delete(context.Background(), v.ID, StopOptions{Force: tt.force})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != session.StatusStopped || got.Exit == nil || got.Exit.Signal != tt.wantSignal {
				t.Errorf("deleted agent = %+v; want stopped by %s", got, tt.wantSignal)
			}
			if len(fake.Started()) != 0 {
				t.Errorf("the runtime still holds %v", fake.Started())
			}
			if _, err := m.Get(v.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestRuntimeLostMarksItsAgentsAsErrors(t *testing.T) {
	a, b := &fakeruntime.Runtime{Name: "a"}, &fakeruntime.Runtime{Name: "b"}
	m := NewManager(hclog.NewNullLogger(), fixedRuntimes{[]runtimes.Candidate{candidate(t, a), candidate(t, b)}}, Options{})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	onA, _ := m.Spawn(context.Background(), SpawnRequest{Type: "custom", Command: []string{"x"}, Runtime: "a"})
	onB, _ := m.Spawn(context.Background(), SpawnRequest{Type: "custom", Command: []string{"x"}, Runtime: "b"})

	m.RuntimeLost("a", `runtime plugin "a" exited unexpectedly`)

	waitStatus(t, m, onB.ID, session.StatusReady)
	gotA, _ := m.Get(onA.ID)
	gotB, _ := m.Get(onB.ID)
	if gotA.Status != session.StatusError || !strings.Contains(gotA.Error, `"a" exited`) {
		t.Errorf("agent on the lost runtime = %+v; want error naming the runtime", gotA)
	}
	if gotB.Status != session.StatusReady {
		t.Errorf("agent on the other runtime = %+v; want ready", gotB)
	}
}

func TestSpawnValidation(t *testing.T) {
	m := NewManager(hclog.NewNullLogger(), fixedRuntimes{}, Options{})
	dir := t.TempDir()
	tests := []struct {
		req   SpawnRequest
		field string
	}{
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Name: "bad name!"}, "name"},
		{SpawnRequest{Command: []string{"x"}}, "type"},
		{SpawnRequest{Type: "cursor"}, "type"},
		{SpawnRequest{Type: "claude", Approval: "maybe"}, "approval"},
		{SpawnRequest{Type: "custom"}, "command"},
		{SpawnRequest{Type: "custom", Command: []string{""}}, "command"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Workdir: "relative/dir"}, "workdir"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Workdir: dir + "/missing"}, "workdir"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Env: map[string]string{"A-B": "1"}}, "env"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Resources: Resources{CPU: "fast"}}, "resources.cpu"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Resources: Resources{Memory: "-1"}}, "resources.memory"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, Runtime: "mars"}, "runtime"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, ReadyPattern: "(unclosed"}, "readyPattern"},
		{SpawnRequest{Type: "custom", Command: []string{"x"}, ReadyPattern: ".*"}, "readyPattern"},
	}
	for _, tt := range tests {
		_, err := m.Spawn(context.Background(), tt.req)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tt.field {
			t.Errorf("Spawn(%+v) = %v; want an InputError on %q", tt.req, err, tt.field)
		}
	}
}

// waitStatus waits until the agent has status want.
func waitStatus(t *testing.T, m *Manager, id string, want session.Status) {
	t.Helper()
	var v View
	var err error
	runtimetest.Eventually(t, 30*time.Second, fmt.Sprintf("agent %s to have status %s", id, want), func() bool {
		v, err = m.Get(id)
		return err == nil && v.Status == want
	}, func() string { return fmt.Sprintf("status %s (%v)", v.Status, err) })
}

func TestEventsMaskTheAgentsSecrets(t *testing.T) {
	const key = "sk-ant-FAKE-events-leak-0042"
	// Another live agent's key, known to the manager's set only.
	const other = "sk-proj-FAKE-other-agent-0043"
	login := events.LoginRequiredData{LoginURL: "https://login.example.com/?k=" + key, Asked: &events.Asked{Choices: []string{"2. No", key}}}
	tests := []struct {
		name string
		data events.Data
		want string // the event's data in JSON
	}{
		{"message", events.MessageData{Content: "the key is " + key, Role: "assistant"},
			`{"content":"the key is [REDACTED]","role":"assistant","time":"0001-01-01T00:00:00Z"}`},
		{"question whose choices hold the key", events.QuestionData{Asked: &events.Asked{Question: "Use " + key + "?", Choices: []string{"1. Yes, use " + key, "2. No"}}},
			`{"choices":["1. Yes, use [REDACTED]","2. No"],"question":"Use [REDACTED]?","selected":0}`},
		{"deep inside", login, `{"choices":["2. No","[REDACTED]"],"deviceCode":"","loginUrl":"https://login.example.com/?k=[REDACTED]","question":"","selected":0}`},
		{"another agent's key", events.AgentErrorData{Error: other}, `{"error":"[REDACTED]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := events.NewBus()
			sub := bus.Subscribe(10, nil)
			set := redact.NewSet(0)
			defer set.Hold([]string{other})()
			m := NewManager(hclog.NewNullLogger(), fixedRuntimes{}, Options{Bus: bus, Secrets: set})
			a := &agent{id: "a1", secrets: adapter.Credentials{AnthropicKey: key}.Secrets()}
			m.publish(a, tt.data)
			e := <-sub.C
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Data json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(b, &got)
			var gotV, wantV any
			_ = json.Unmarshal(got.Data, &gotV)
			_ = json.Unmarshal([]byte(tt.want), &wantV)
			if !reflect.DeepEqual(gotV, wantV) || e.AgentID != "a1" || e.Event != tt.data.EventName() {
				t.Errorf("event = %s %s %s; want data %s", e.Event, e.AgentID, got.Data, tt.want)
			}
			if reflect.TypeOf(e.Data) != reflect.TypeOf(tt.data) {
				t.Errorf("data is a %T, want a %T", e.Data, tt.data)
			}
		})
	}
	if login.Choices[1] != key || !strings.Contains(login.LoginURL, key) {
		t.Errorf("publish changed the data it was given: %+v %+v", login, login.Asked)
	}
}
