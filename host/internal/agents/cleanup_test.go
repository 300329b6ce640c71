package agents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/host/internal/redact"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/sdk/runtime"
)

const testKey = "sk-ant-FAKE-cleanup-0042-abcdefghijklmnop"

// syncBuffer is a log output that tests read while agents log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type dirTest struct {
	m       *Manager
	fake    *fakeruntime.Runtime
	dataDir string
	sub     *events.Subscription
	log     *syncBuffer
}

// newDirTest returns a manager with a data dir on a fake runtime whose
// agents show screen, logging as the host does: through a Set's Writer.
func newDirTest(t *testing.T, screen string) *dirTest {
	t.Helper()
	fake := &fakeruntime.Runtime{Name: "fake"}
	if screen != "" {
		fake.Screen = func(runtime.Spec) []byte { return []byte(screen) }
	}
	bus := events.NewBus()
	secrets := redact.NewSet(redact.DefaultLinger)
	logs := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: secrets.Writer(logs), Level: hclog.Debug})
	d := &dirTest{fake: fake, dataDir: t.TempDir(), sub: bus.Subscribe(100, nil), log: logs}
	d.m = NewManager(log, fixedRuntimes{[]runtimes.Candidate{candidate(t, fake)}}, Options{DataDir: d.dataDir, Bus: bus, Secrets: secrets})
	t.Cleanup(func() { d.m.Shutdown(context.Background()) })
	return d
}

// spawnWithHome spawns a claude agent with key, and checks that its home
// holds the key's trace, as pre-seeded.
func (d *dirTest) spawnWithHome(t *testing.T, key string) View {
	t.Helper()
	v, err := d.m.Spawn(context.Background(), SpawnRequest{Type: "claude", Credentials: adapter.Credentials{AnthropicKey: key}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(d.dir(v.ID), "home", ".claude.json"))
	if err != nil || !strings.Contains(string(b), key[len(key)-20:]) {
		t.Fatalf("the agent's pre-seeded home: %q, %v; want it to approve the key", b, err)
	}
	return v
}

func (d *dirTest) dir(id string) string { return filepath.Join(d.dataDir, "agents", id) }

// waitEvent returns the next event typ of agent id.
func (d *dirTest) waitEvent(t *testing.T, id string, typ events.Name) events.Event {
	t.Helper()
	for e := range d.sub.C {
		if e.AgentID == id && e.Event == typ {
			return e
		}
	}
	t.Fatalf("no %s event for %s", typ, id)
	return events.Event{}
}

func gone(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists (%v); the agent ended", dir, err)
	}
}

func TestAgentDirGoesWhenTheAgentEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, d *dirTest, id string)
		// kept: the agent's record stays after it ended this way.
		kept bool
	}{
		{"its process exits", func(t *testing.T, d *dirTest, id string) {
			if err := d.fake.Exit(id, 3); err != nil {
				t.Fatal(err)
			}
			d.waitEvent(t, id, events.AgentStopped)
		}, true},
		{"its runtime is lost", func(t *testing.T, d *dirTest, id string) {
			d.m.RuntimeLost("fake", "runtime plugin crashed")
		}, true},
		{"Delete", func(t *testing.T, d *dirTest, id string) {
			if _, err := d.m.Delete(context.Background(), id, StopOptions{}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"Shutdown", func(t *testing.T, d *dirTest, id string) {
			d.m.Shutdown(context.Background())
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirTest(t, "")
			v := d.spawnWithHome(t, testKey)
			tt.end(t, d, v.ID)
			gone(t, d.dir(v.ID))
			got, err := d.m.Get(v.ID)
			if tt.kept && (err != nil || got.Status.Live()) {
				t.Errorf("record after the agent ended: %+v, %v; want it kept, not live", got, err)
			}
		})
	}
}

// TestProvideCredentialsKeepsTheNewHome: a restart stops and removes the
// agent, then starts it again with the same id and directory; the old
// agent's cleanup must not take the new one's home.
func TestProvideCredentialsKeepsTheNewHome(t *testing.T) {
	d := newDirTest(t, "")
	v := d.spawnWithHome(t, testKey)
	const newKey = "sk-ant-FAKE-provided-0043-qrstuvwxyzabcdef"
	if _, err := d.m.ProvideCredentials(context.Background(), v.ID, newKey); err != nil {
		t.Fatal(err)
	}
	// Both starts and the old agent's end, the last two in either order.
	started, stopped := 0, 0
	for started < 2 || stopped < 1 {
		e := <-d.sub.C
		switch {
		case e.AgentID != v.ID:
		case e.Event == "agent_started":
			started++
		case e.Event == "agent_stopped":
			stopped++
		}
	}
	b, err := os.ReadFile(filepath.Join(d.dir(v.ID), "home", ".claude.json"))
	if err != nil || !strings.Contains(string(b), newKey[len(newKey)-20:]) {
		t.Fatalf("restarted agent's home: %q, %v; want it pre-seeded with the new key", b, err)
	}
	if _, err := d.m.Delete(context.Background(), v.ID, StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	gone(t, d.dir(v.ID))
}

func TestSweepDirsRemovesOnlyOrphans(t *testing.T) {
	d := newDirTest(t, "")
	live := d.spawnWithHome(t, testKey)
	// An agent the runtime still runs from before a restart, adopted.
	adoptedInfo, err := d.fake.Start(context.Background(), runtime.Spec{ID: "adopted1", Labels: map[string]string{LabelType: "custom"}})
	if err != nil {
		t.Fatal(err)
	}
	exited := d.spawnWithHome(t, "sk-ant-FAKE-exited-0044-abcdefghijklmno")
	if err := d.fake.Exit(exited.ID, 0); err != nil {
		t.Fatal(err)
	}
	d.waitEvent(t, exited.ID, events.AgentStopped)

	// What a killed host left: homes with keys, of agents nobody runs,
	// and the adopted agent's, whatever it still holds.
	for _, id := range []string{"orphan1", "orphan2", "adopted1", exited.ID} {
		write(t, filepath.Join(d.dir(id), "home", ".codex", "auth.json"), testKey)
	}
	d.m.Adopt("fake", []runtime.AgentInfo{adoptedInfo})

	d.m.SweepDirs()

	for _, tc := range []struct {
		id   string
		keep bool
	}{
		{live.ID, true}, {"adopted1", true}, {"orphan1", false}, {"orphan2", false}, {exited.ID, false},
	} {
		_, err := os.Stat(d.dir(tc.id))
		if exists := err == nil; exists != tc.keep {
			t.Errorf("dir of %s exists=%t after the sweep; want %t", tc.id, exists, tc.keep)
		}
	}
	// The adopted agent's leftover goes with it.
	if _, err := d.m.Delete(context.Background(), "adopted1", StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	gone(t, d.dir("adopted1"))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAnExitShowsNoKey: an agent that printed its key as its last line
// and exited badly has that line in its error, masked everywhere; also
// one adopted after a restart, whose key only its runtime's store knows.
func TestAnExitShowsNoKey(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T, d *dirTest) string
	}{
		{"spawned", func(t *testing.T, d *dirTest) string {
			v, err := d.m.Spawn(context.Background(), SpawnRequest{Type: "custom", Command: []string{"env"}, Credentials: adapter.Credentials{AnthropicKey: testKey}})
			if err != nil {
				t.Fatal(err)
			}
			return v.ID
		}},
		{"adopted", func(t *testing.T, d *dirTest) string {
			info, err := d.fake.Start(context.Background(), runtime.Spec{ID: "adopted1", Labels: map[string]string{LabelType: "custom"}})
			if err != nil {
				t.Fatal(err)
			}
			// As the runtime's Recover gives it back.
			info.Env = map[string]string{"ANTHROPIC_API_KEY": testKey, "TERM": "xterm"}
			d.m.Adopt("fake", []runtime.AgentInfo{info})
			return info.ID
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirTest(t, "ANTHROPIC_API_KEY="+testKey+"\r\n")
			id := tt.start(t, d)
			// The screen is read once the session has it: wait for its ready.
			ready := d.waitEvent(t, id, events.AgentReady)
			if err := d.fake.Exit(id, 3); err != nil {
				t.Fatal(err)
			}
			stopped := d.waitEvent(t, id, events.AgentStopped)
			got, err := d.m.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			logs, _ := d.m.Logs(id, 0, false)
			for name, text := range map[string]string{
				"view error": got.Error, "event": stopped.Data.(events.AgentStoppedData).Reason, "host log": d.log.String(), "logs": string(logs),
			} {
				if strings.Contains(text, testKey) || !strings.Contains(text, "ANTHROPIC_API_KEY=[REDACTED]") {
					t.Errorf("%s: %q; want the key's line, masked", name, text)
				}
			}
			if strings.Contains(fmt.Sprint(ready.Data), testKey) {
				t.Errorf("agent_ready shows the key: %v", ready.Data)
			}
		})
	}
}
