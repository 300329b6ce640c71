package registry

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/agent/registry/registrytest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// This test lives inside the package because compaction has to land in
// one exact place, between the listing and the watch that continues it,
// and only the afterList hook can put it there.
func TestWatchResyncsAfterCompaction(t *testing.T) {
	cli := registrytest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const prefix = "/compact/"

	entry := func(id, name string) Entry {
		return Entry{ID: id, Name: name, Endpoint: "http://127.0.0.1:8080", Capabilities: []string{"code"}}
	}
	put := func(e Entry) int64 {
		// Called from the watcher's goroutine too, hence Error, not Fatal.
		value, err := json.Marshal(e)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp, err := cli.Put(ctx, Key(prefix, e.ID), string(value))
		if err != nil {
			t.Error(err)
			return 0
		}
		return resp.Header.Revision
	}
	a, b, c := entry("a", "first"), entry("b", "first"), entry("c", "first")
	aChanged := entry("a", "second")
	put(a)
	put(b)

	var logMu sync.Mutex
	var logged []error
	w := newWatcher(cli, prefix, func(msg string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		for _, arg := range args {
			if err, ok := arg.(error); ok {
				logged = append(logged, err)
			}
		}
	})
	var once sync.Once
	w.afterList = func() {
		once.Do(func() {
			// Changes the watch would have carried, then compaction that
			// takes them away from it.
			if _, err := cli.Delete(ctx, Key(prefix, "b")); err != nil {
				t.Error(err)
			}
			put(c)
			rev := put(aChanged)
			if _, err := cli.Compact(ctx, rev); err != nil {
				t.Error(err)
			}
		})
	}
	go w.run(ctx)

	want := []Event{
		// The first listing.
		{Type: EventPut, ID: "a", Entry: a},
		{Type: EventPut, ID: "b", Entry: b},
		// The listing after compaction: puts in key order, then deletes.
		{Type: EventPut, ID: "a", Entry: aChanged},
		{Type: EventPut, ID: "c", Entry: c},
		{Type: EventDelete, ID: "b", Entry: b},
	}
	for i, wantEv := range want {
		select {
		case got := <-w.events:
			if !reflect.DeepEqual(got, wantEv) {
				t.Fatalf("event %d = %+v, want %+v", i, got, wantEv)
			}
		case <-ctx.Done():
			t.Fatalf("event %d: %v", i, ctx.Err())
		}
	}

	logMu.Lock()
	defer logMu.Unlock()
	if len(logged) != 1 || !errors.Is(logged[0], rpctypes.ErrCompacted) {
		t.Fatalf("logged errors = %v, want one ErrCompacted", logged)
	}
}

// Unchanged entries are not sent again when the watcher lists again.
func TestListSendsOnlyDifferences(t *testing.T) {
	cli := registrytest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const prefix = "/relist/"
	value, err := json.Marshal(Entry{ID: "a", Endpoint: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, Key(prefix, "a"), string(value)); err != nil {
		t.Fatal(err)
	}

	w := newWatcher(cli, prefix, nil)
	got := make(chan []Event)
	go func() {
		var events []Event
		for ev := range w.events {
			events = append(events, ev)
		}
		got <- events
	}()
	for range 2 {
		if _, err := w.list(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Delete(ctx, Key(prefix, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.list(ctx); err != nil {
		t.Fatal(err)
	}
	close(w.events)

	events := <-got
	if len(events) != 2 || events[0].Type != EventPut || events[1].Type != EventDelete {
		t.Fatalf("events = %+v, want one put, then one delete", events)
	}
}
