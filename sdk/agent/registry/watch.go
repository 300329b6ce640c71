package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EventType says whether an entry appeared or changed, or went away.
type EventType int

const (
	// EventPut: Entry is new or replaces the one known for ID.
	EventPut EventType = iota + 1
	// EventDelete: the entry for ID is gone. Entry is the last one seen.
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change to the set of registered agents.
type Event struct {
	Type  EventType
	ID    string
	Entry Entry
}

// Watch reports the agents registered under prefix: first an EventPut for
// each entry present now, then every change after that. A consumer that
// applies the events in order to a map from ID to Entry holds the same set
// as etcd, give or take the events still in flight; it never needs to
// clear the map or know that Watch had to start over.
//
// Watch starts over by listing the prefix again whenever the etcd watch
// fails: when etcd has compacted away the revisions it had not yet seen,
// when the member lost its leader, or when etcd is unreachable (retrying
// with growing delays). It then sends only the difference from what it
// had sent: EventPut for entries that are new or changed, EventDelete for
// those that vanished meanwhile.
//
// A value that is not JSON, fails Entry.Validate, or whose id is not the
// last element of its key is skipped with a warning through log, which may
// be nil. If it replaces an entry that was valid, that entry is reported
// as deleted, since the agent no longer announces it. A later valid value
// under the same key is an EventPut again.
//
// prefix is completed as Key does. The channel is closed when ctx ends.
func Watch(ctx context.Context, cli *clientv3.Client, prefix string, log func(msg string, args ...any)) <-chan Event {
	w := newWatcher(cli, prefix, log)
	go w.run(ctx)
	return w.events
}

// watcher holds what it has sent, so that after listing again it can send
// the difference.
type watcher struct {
	cli    *clientv3.Client
	prefix string
	log    func(msg string, args ...any)
	events chan Event

	known map[string]knownEntry // by ID

	// afterList, when set by a test, runs between a listing and the watch
	// that continues it, to change etcd exactly there.
	afterList func()
}

type knownEntry struct {
	entry Entry
	// modRevision is the revision at which etcd last wrote the key; the
	// same one after a new listing means the value has not changed.
	modRevision int64
}

func newWatcher(cli *clientv3.Client, prefix string, log func(msg string, args ...any)) *watcher {
	if log == nil {
		log = func(string, ...any) {}
	}
	return &watcher{
		cli:    cli,
		prefix: normalizePrefix(prefix),
		log:    log,
		events: make(chan Event),
		known:  make(map[string]knownEntry),
	}
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.events)
	delay := minRetryDelay
	for {
		progressed, err := w.listAndFollow(ctx)
		if ctx.Err() != nil {
			return
		}
		// Restart at once after a watch that worked for a while; back off
		// when etcd fails us over and over, so a persistent failure is not
		// a busy loop of listings and warnings.
		if progressed {
			delay = minRetryDelay
		}
		w.log("registry: watch interrupted, listing again", "prefix", w.prefix, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// listAndFollow lists the prefix at some revision R, then watches from
// R+1, so no change falls between the two. It returns when the watch fails;
// progressed says whether the watch delivered any change before that.
func (w *watcher) listAndFollow(ctx context.Context) (progressed bool, err error) {
	rev, err := w.list(ctx)
	if err != nil {
		return false, err
	}
	if w.afterList != nil {
		w.afterList()
	}
	// Require a leader: a member cut off from the rest of the cluster would
	// otherwise keep the watch open and silent while the others change.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range w.cli.Watch(wctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		// Err covers compaction (rpctypes.ErrCompacted), a cancelled watch
		// and a lost leader; in each case only a new listing is safe.
		if err := resp.Err(); err != nil {
			return progressed, err
		}
		for _, ev := range resp.Events {
			if err := w.apply(ctx, ev.Type, ev.Kv); err != nil {
				return progressed, err
			}
			progressed = true
		}
	}
	if err := ctx.Err(); err != nil {
		return progressed, err
	}
	return progressed, errors.New("watch channel closed")
}

// list sends the difference between what is under the prefix now and what
// was sent before, and returns the revision it read at.
func (w *watcher) list(ctx context.Context) (int64, error) {
	resp, err := w.cli.Get(ctx, w.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	present := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		present[w.id(kv.Key)] = true
		if err := w.apply(ctx, mvccpb.PUT, kv); err != nil {
			return 0, err
		}
	}
	// Sorted so that the order of events does not depend on map order.
	for _, id := range slices.Sorted(maps.Keys(w.known)) {
		if !present[id] {
			if err := w.forget(ctx, id); err != nil {
				return 0, err
			}
		}
	}
	return resp.Header.Revision, nil
}

func (w *watcher) id(key []byte) string {
	return strings.TrimPrefix(string(key), w.prefix)
}

// apply turns one key change into at most one event. It fails only when
// ctx ends while it waits for the consumer.
func (w *watcher) apply(ctx context.Context, typ mvccpb.Event_EventType, kv *mvccpb.KeyValue) error {
	id := w.id(kv.Key)
	if typ == mvccpb.DELETE {
		return w.forget(ctx, id)
	}
	if k, ok := w.known[id]; ok && k.modRevision == kv.ModRevision {
		return nil // listed again, unchanged
	}
	e, err := decode(id, kv.Value)
	if err != nil {
		w.log("registry: skipping invalid entry", "key", string(kv.Key), "err", err)
		return w.forget(ctx, id)
	}
	w.known[id] = knownEntry{entry: e, modRevision: kv.ModRevision}
	return w.send(ctx, Event{Type: EventPut, ID: id, Entry: e})
}

// forget sends EventDelete for id if an entry was sent for it.
func (w *watcher) forget(ctx context.Context, id string) error {
	k, ok := w.known[id]
	if !ok {
		return nil
	}
	delete(w.known, id)
	return w.send(ctx, Event{Type: EventDelete, ID: id, Entry: k.entry})
}

func (w *watcher) send(ctx context.Context, ev Event) error {
	select {
	case w.events <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// decode parses and checks the value stored under the key of id.
func decode(id string, value []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(value, &e); err != nil {
		return Entry{}, fmt.Errorf("registry: value is not an entry: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Entry{}, err
	}
	// Deletes carry only the key, so the key must say which entry went.
	if e.ID != id {
		return Entry{}, fmt.Errorf("registry: entry id %q does not match its key, which ends in %q", e.ID, id)
	}
	return e, nil
}
