package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func dbPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "parallax.db")
}

func mustOpen(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRoundTripAcrossReopen(t *testing.T) {
	path := dbPath(t)
	ended := t0.Add(time.Hour)
	agent := Agent{
		ID: "a1", Name: "first", Type: "claude", Runtime: "local", Role: "reviewer", Workdir: "/w",
		Capabilities: []string{"edit"}, Command: []string{"claude", "--print"},
		Request: json.RawMessage(`{"type":"claude"}`), CreatedAt: t0, Status: "exited", Error: "boom",
		Statuses: []StatusChange{{Status: "ready", At: t0}, {Status: "exited", Reason: "done", At: ended}},
		Exit:     &Exit{Code: 2, Signal: "SIGTERM", Reason: "stopped", At: ended},
		EndedAt:  &ended, Removed: true, Pooled: true,
	}
	entries := []Entry{
		{Seq: 1, Time: t0, Kind: KindSent, Text: "hello", ExpectResponse: true},
		{Seq: 2, Time: t0, Kind: KindQuestion, Text: "go on?", Choices: []string{"yes", "no"}},
		{Seq: 3, Time: t0, Kind: KindAnswer, Text: "yes"},
		{Seq: 4, Time: t0, Kind: KindReply, Text: "done"},
	}
	events := [][]byte{[]byte(`{"event":"started"}`), []byte(`{"event":"ready"}`)}
	execution := []byte(`{"id":"x1","pattern":"review"}`)

	s := mustOpen(t, path, Options{})
	s.PutAgent(agent)
	for _, e := range entries {
		e.Seq = 0 // the store numbers them
		s.AppendTranscript("a1", e)
	}
	s.AppendOutput("a1", []byte("hello "))
	s.AppendOutput("a1", []byte("world"))
	for i, raw := range events {
		s.AppendEvent(uint64(i+1), t0, raw)
	}
	s.PutExecution("x1", t0, execution)

	check := func(t *testing.T, s *Store) {
		got, ok, err := s.Agent("a1")
		if err != nil || !ok || !reflect.DeepEqual(got, agent) {
			t.Errorf("Agent = %+v, %t, %v; want %+v", got, ok, err, agent)
		}
		if _, ok, err := s.Agent("nobody"); ok || err != nil {
			t.Errorf("Agent(nobody) = %t, %v; want none", ok, err)
		}
		if all := must[[]Agent](t)(s.Agents()); len(all) != 1 || all[0].ID != "a1" {
			t.Errorf("Agents = %+v", all)
		}
		if tr := must[[]Entry](t)(s.Transcript("a1")); !reflect.DeepEqual(tr, entries) {
			t.Errorf("Transcript = %+v; want %+v", tr, entries)
		}
		if out := must[[]byte](t)(s.Output("a1")); string(out) != "hello world" {
			t.Errorf("Output = %q", out)
		}
		if n := must[int64](t)(s.OutputSize("a1")); n != 11 {
			t.Errorf("OutputSize = %d", n)
		}
		var gotEvents [][]byte
		if err := s.EventsSince(0, func(seq uint64, raw []byte) error {
			gotEvents = append(gotEvents, raw)
			return nil
		}); err != nil || !reflect.DeepEqual(gotEvents, events) {
			t.Errorf("EventsSince(0) = %q, %v", gotEvents, err)
		}
		if s.LastEventSeq() != 2 {
			t.Errorf("LastEventSeq = %d", s.LastEventSeq())
		}
		if raw, ok, err := s.Execution("x1"); !ok || err != nil || !bytes.Equal(raw, execution) {
			t.Errorf("Execution = %q, %t, %v", raw, ok, err)
		}
		if all := must[[][]byte](t)(s.Executions()); len(all) != 1 || !bytes.Equal(all[0], execution) {
			t.Errorf("Executions = %q", all)
		}
	}
	t.Run("queued", func(t *testing.T) { check(t, s) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("reopened", func(t *testing.T) { check(t, mustOpen(t, path, Options{})) })
}

func TestNewFileIsPrivateAndVersioned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "parallax.db")
	s := mustOpen(t, path, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	info := must[os.FileInfo](t)(os.Stat(path))
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("mode %v; want 0600", perm)
	}
	db := must[*bolt.DB](t)(bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true}))
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "1" {
			t.Errorf("schema %q; want 1", v)
		}
		return nil
	})
}

func TestPurgeAfterQueuedWrites(t *testing.T) {
	// An hour's interval: nothing commits before Purge asks.
	s := mustOpen(t, dbPath(t), Options{FlushInterval: time.Hour})
	s.PutAgent(Agent{ID: "a", CreatedAt: t0})
	s.AppendTranscript("a", Entry{Kind: KindSent, Text: "hi"})
	s.AppendOutput("a", []byte("before"))
	if err := s.Purge("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Agent("a"); ok {
		t.Error("record survived Purge")
	}
	if tr := must[[]Entry](t)(s.Transcript("a")); len(tr) != 0 {
		t.Errorf("transcript survived Purge: %+v", tr)
	}
	if out := must[[]byte](t)(s.Output("a")); len(out) != 0 {
		t.Errorf("output survived Purge: %q", out)
	}

	// Output queued after a Purge is not taken with what was queued before.
	s.AppendOutput("a", []byte("old"))
	if err := s.Purge("a"); err != nil {
		t.Fatal(err)
	}
	s.AppendOutput("a", []byte("new"))
	if out := must[[]byte](t)(s.Output("a")); string(out) != "new" {
		t.Errorf("Output = %q; want %q", out, "new")
	}
}

func TestEventsSince(t *testing.T) {
	s := mustOpen(t, dbPath(t), Options{})
	const n = 2*eventsPage + 7 // reads span pages
	for seq := uint64(1); seq <= n; seq++ {
		s.AppendEvent(seq, t0, fmt.Appendf(nil, `{"seq":%d}`, seq))
	}
	for _, since := range []uint64{0, 1, eventsPage - 1, eventsPage, eventsPage + 1, n - 1, n, n + 5, math.MaxUint64} {
		t.Run(fmt.Sprint(since), func(t *testing.T) {
			var got []uint64
			err := s.EventsSince(since, func(seq uint64, raw []byte) error {
				if want := fmt.Sprintf(`{"seq":%d}`, seq); string(raw) != want {
					t.Errorf("event %d: %s; want %s", seq, raw, want)
				}
				got = append(got, seq)
				return nil
			})
			var want []uint64
			for seq := since + 1; since < n && seq <= n; seq++ {
				want = append(want, seq)
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("EventsSince(%d) = %v, %v; want %v", since, got, err, want)
			}
		})
	}

	stop := errors.New("stop")
	calls := 0
	err := s.EventsSince(0, func(uint64, []byte) error {
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("fn's error: EventsSince = %v after %d calls; want stop after 3", err, calls)
	}
}

func TestLastEventSeqOutlivesEvents(t *testing.T) {
	path := dbPath(t)
	s := mustOpen(t, path, Options{})
	for seq := uint64(1); seq <= 5; seq++ {
		s.AppendEvent(seq, t0, []byte(`{}`))
	}
	if s.LastEventSeq() != 5 {
		t.Fatalf("LastEventSeq = %d; want 5 (queued counts)", s.LastEventSeq())
	}
	if _, err := s.Sweep(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = mustOpen(t, path, Options{})
	if s.LastEventSeq() != 5 {
		t.Errorf("after the sweep and a restart LastEventSeq = %d; want 5", s.LastEventSeq())
	}
	if err := s.EventsSince(0, func(seq uint64, _ []byte) error { return fmt.Errorf("event %d survived the sweep", seq) }); err != nil {
		t.Error(err)
	}
}

func TestOutputKeepsExactlyTheLastCapBytes(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name     string
		sizes    func(r *rand.Rand) int
		total    int
		flushOne int // flush after about 1 in flushOne appends
	}{
		{"small appends, one commit", func(r *rand.Rand) int { return 1 + r.IntN(40) }, 20_000, 0},
		{"small appends, many commits", func(r *rand.Rand) int { return 1 + r.IntN(40) }, 20_000, 5},
		{"appends near the cap", func(r *rand.Rand) int { return limit - 50 + r.IntN(100) }, 20_000, 2},
		{"appends over the cap", func(r *rand.Rand) int { return 2*limit + r.IntN(limit) }, 20_000, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dbPath(t)
			s := mustOpen(t, path, Options{OutputCap: limit})
			r := rand.New(rand.NewPCG(1, 2))
			var all []byte
			write := func(s *Store, total int) {
				for len(all) < total {
					p := make([]byte, tt.sizes(r))
					for i := range p {
						p[i] = byte(len(all) + i)
					}
					p[0] = byte(r.Uint32()) // not periodic: a misplaced byte shows
					all = append(all, p...)
					s.AppendOutput("a", p)
					if tt.flushOne > 0 && r.IntN(tt.flushOne) == 0 {
						if err := s.Flush(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			check := func(s *Store) {
				t.Helper()
				out := must[[]byte](t)(s.Output("a"))
				if want := all[len(all)-limit:]; !bytes.Equal(out, want) {
					t.Fatalf("Output: %d bytes, not the last %d written", len(out), limit)
				}
				if n := must[int64](t)(s.OutputSize("a")); n != limit {
					t.Errorf("OutputSize = %d; want %d", n, limit)
				}
			}
			write(s, tt.total)
			check(s)
			// A restart loses the size the store counted; it counts anew.
			_ = s.Close()
			s = mustOpen(t, path, Options{OutputCap: limit})
			check(s)
			write(s, 2*tt.total)
			check(s)
		})
	}
}

func TestAgentsOldestFirst(t *testing.T) {
	s := mustOpen(t, dbPath(t), Options{})
	for _, a := range []Agent{
		{ID: "c", CreatedAt: t0.Add(2 * time.Second)},
		{ID: "b", CreatedAt: t0},
		{ID: "a", CreatedAt: t0},
		{ID: "d", CreatedAt: t0.Add(time.Second)},
	} {
		s.PutAgent(a)
	}
	var ids []string
	for _, a := range must[[]Agent](t)(s.Agents()) {
		ids = append(ids, a.ID)
	}
	if want := []string{"a", "b", "d", "c"}; !slices.Equal(ids, want) {
		t.Errorf("Agents: %v; want %v", ids, want)
	}
}

func TestPutAgentReplacesAndTrimsStatuses(t *testing.T) {
	s := mustOpen(t, dbPath(t), Options{})
	s.PutAgent(Agent{ID: "a", Name: "old", Status: "starting"})
	var statuses []StatusChange
	for i := range MaxStatuses + 50 {
		statuses = append(statuses, StatusChange{Status: fmt.Sprint(i), At: t0})
	}
	if err := s.PutAgentSync(Agent{ID: "a", Name: "new", Statuses: statuses}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.Agent("a")
	if got.Name != "new" || len(got.Statuses) != MaxStatuses || got.Statuses[0].Status != "50" {
		t.Errorf("Agent: %q with %d statuses from %q; want new, %d from 50", got.Name, len(got.Statuses), got.Statuses[0].Status, MaxStatuses)
	}
	if len(statuses) != MaxStatuses+50 || statuses[0].Status != "0" {
		t.Error("PutAgentSync changed the caller's statuses")
	}
	if err := s.PutAgentSync(Agent{}); err == nil {
		t.Error("PutAgentSync of a record without an id succeeded")
	}
}

// PutAgentSync has the record on disk when it returns: a copy of the file
// taken then holds it.
func TestPutAgentSyncIsOnDisk(t *testing.T) {
	path := dbPath(t)
	s := mustOpen(t, path, Options{FlushInterval: time.Hour})
	s.AppendOutput("a", []byte("queued before"))
	if err := s.PutAgentSync(Agent{ID: "a", Name: "durable", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, must[[]byte](t)(os.ReadFile(path)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, copyPath, Options{})
	if a, ok, err := c.Agent("a"); !ok || err != nil || a.Name != "durable" {
		t.Errorf("the copy's record: %+v, %t, %v", a, ok, err)
	}
	if out, _ := c.Output("a"); string(out) != "queued before" {
		t.Errorf("the copy's output: %q; want what was queued before", out)
	}
}

func TestSweep(t *testing.T) {
	path := dbPath(t)
	s := mustOpen(t, path, Options{})
	cutoff := t0.Add(24 * time.Hour)
	before, after := cutoff.Add(-time.Hour), cutoff.Add(time.Hour)
	for _, a := range []Agent{
		{ID: "old", CreatedAt: t0, EndedAt: &before},
		{ID: "recent", CreatedAt: t0, EndedAt: &after},
		{ID: "running", CreatedAt: t0},
	} {
		s.PutAgent(a)
		s.AppendTranscript(a.ID, Entry{Kind: KindSent, Text: "hi"})
		s.AppendOutput(a.ID, []byte("out"))
	}
	s.AppendOutput("ghost", []byte("written after its purge"))
	for i, at := range []time.Time{before.Add(-time.Hour), before, cutoff, after} {
		s.AppendEvent(uint64(i+1), at, []byte(`{}`))
	}
	s.PutExecution("x-old", before, []byte(`"old"`))
	s.PutExecution("x-new", after, []byte(`"new"`))

	n, err := s.Sweep(cutoff)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 agent", n, err)
	}
	for _, tt := range []struct {
		id   string
		kept bool
	}{{"old", false}, {"recent", true}, {"running", true}, {"ghost", false}} {
		_, ok, _ := s.Agent(tt.id)
		tr, _ := s.Transcript(tt.id)
		out, _ := s.Output(tt.id)
		if tt.id != "ghost" && ok != tt.kept || (len(tr) > 0) != (tt.kept) || (len(out) > 0) != tt.kept {
			t.Errorf("%s: record %t, %d entries, %d bytes; want kept: %t", tt.id, ok, len(tr), len(out), tt.kept)
		}
	}
	var seqs []uint64
	_ = s.EventsSince(0, func(seq uint64, _ []byte) error { seqs = append(seqs, seq); return nil })
	if !slices.Equal(seqs, []uint64{3, 4}) {
		t.Errorf("events kept: %v; want [3 4]", seqs)
	}
	if execs := must[[][]byte](t)(s.Executions()); len(execs) != 1 || string(execs[0]) != `"new"` {
		t.Errorf("executions kept: %q", execs)
	}
	if n, _ := s.Sweep(cutoff); n != 0 {
		t.Errorf("a second Sweep removed %d agents", n)
	}
}

func TestExecutionsOldestFirst(t *testing.T) {
	s := mustOpen(t, dbPath(t), Options{})
	s.PutExecution("b", t0.Add(time.Minute), []byte(`"b"`))
	s.PutExecution("a", t0.Add(time.Hour), []byte(`"a"`))
	s.PutExecution("c", t0, []byte(`"c"`))
	s.PutExecution("c", t0.Add(-time.Hour), []byte(`"c2"`)) // replaces
	var got []string
	for _, raw := range must[[][]byte](t)(s.Executions()) {
		got = append(got, string(raw))
	}
	if want := []string{`"c2"`, `"b"`, `"a"`}; !slices.Equal(got, want) {
		t.Errorf("Executions = %v; want %v", got, want)
	}
	if _, ok, err := s.Execution("nope"); ok || err != nil {
		t.Errorf("Execution(nope) = %t, %v", ok, err)
	}
}

func TestClose(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.AppendOutput("a", []byte("kept by Close"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.AppendOutput("a", []byte("dropped"))
	s.PutAgent(Agent{ID: "a"})
	if err := s.PutAgentSync(Agent{ID: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("PutAgentSync after Close: %v; want ErrClosed", err)
	}
	if _, err := s.Output("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Output after Close: %v; want ErrClosed", err)
	}
	if err := s.Flush(); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	s = mustOpen(t, path, Options{})
	if out, _ := s.Output("a"); string(out) != "kept by Close" {
		t.Errorf("after reopening: %q", out)
	}
}

// Writers and readers at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	s := mustOpen(t, dbPath(t), Options{OutputCap: 4096, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	var seq sync.Mutex
	next := uint64(0)
	for w := range 4 {
		id := fmt.Sprint("agent-", w)
		wg.Go(func() {
			for i := range 200 {
				s.AppendOutput(id, []byte(strings.Repeat("x", i%50+1)))
				s.AppendTranscript(id, Entry{Kind: KindReply, Text: "r"})
				seq.Lock()
				next++
				s.AppendEvent(next, time.Now(), []byte(`{}`))
				seq.Unlock()
				if i%50 == 0 {
					if err := s.PutAgentSync(Agent{ID: id, CreatedAt: t0}); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_, _ = s.Agents()
			_, _ = s.Output("agent-0")
			_ = s.EventsSince(0, func(uint64, []byte) error { return nil })
		}
	})
	wg.Wait()
	for w := range 4 {
		if tr := must[[]Entry](t)(s.Transcript(fmt.Sprint("agent-", w))); len(tr) != 200 || tr[199].Seq != 200 {
			t.Errorf("agent-%d: %d entries", w, len(tr))
		}
	}
	if s.LastEventSeq() != 800 {
		t.Errorf("LastEventSeq = %d; want 800", s.LastEventSeq())
	}
}
