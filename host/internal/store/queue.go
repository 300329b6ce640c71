package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Every write is queued and applied in the order it was queued, by one
// goroutine, many to a transaction: a commit costs an fsync, and the host
// writes output and events far more often than a disk syncs. Only the
// callers that must know a write is on disk (PutAgentSync, Purge, Sweep,
// Flush) wait, and they wait together for one commit.

const (
	// urgeBytes queued start a commit before the interval is up.
	urgeBytes = 4 << 20
	// maxQueuedBytes queued make writers wait for a commit rather than the
	// host's memory grow, or output be dropped.
	maxQueuedBytes = 64 << 20
)

// batch is the writes one transaction commits.
type batch struct {
	ops []op
	// output holds each agent's output queued since the last op that may
	// remove it, so that its bytes make one chunk.
	output map[string]*outBuf
	bytes  int64
	// lastEventSeq is the highest event seq in ops, kept in meta with them.
	lastEventSeq uint64
	done         chan struct{} // closed once committed (or failed)
	err          error         // the commit's error, set before done is closed
}

type op struct {
	what  string // for the log, never a record's contents
	apply func(tx *bolt.Tx) error
	err   *error // where a waiting caller reads its op's own error
}

func newBatch() *batch {
	return &batch{output: map[string]*outBuf{}, done: make(chan struct{})}
}

// enqueue adds o to the pending batch, with the bytes it holds, calls with
// (if any) on the batch, and returns it; false if the store is closed.
func (s *Store) enqueue(o op, size int64, with func(*batch)) (*batch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Warn("write after close dropped", "op", o.what)
		return nil, false
	}
	b := s.add(o, size)
	if with != nil {
		with(b)
	}
	return b, true
}

// add queues o; s.mu held.
func (s *Store) add(o op, size int64) *batch {
	b := s.pending
	b.ops = append(b.ops, o)
	s.grew(b, size)
	if len(b.ops) == 1 {
		signal(s.wake)
	}
	return b
}

// grew accounts size more bytes in b; s.mu held.
func (s *Store) grew(b *batch, size int64) {
	b.bytes += size
	s.queued += size
	if b.bytes >= urgeBytes {
		signal(s.urgent)
	}
}

// sync queues o, has it committed now and returns its error.
func (s *Store) sync(o op, with func(*batch)) error {
	var err error
	o.err = &err
	b, ok := s.enqueue(o, 0, with)
	if !ok {
		return ErrClosed
	}
	signal(s.urgent)
	<-b.done
	if b.err != nil {
		return b.err
	}
	return err
}

// Flush returns once everything queued before the call is committed.
func (s *Store) Flush() error {
	s.mu.Lock()
	b := s.pending
	if len(b.ops) == 0 {
		b = s.inflight
	}
	s.mu.Unlock()
	if b == nil {
		return nil
	}
	signal(s.urgent)
	<-b.done
	return b.err
}

// fresh makes a read see every write queued before it. A failed commit was
// logged by run; the read shows what is on disk.
func (s *Store) fresh() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	_ = s.Flush()
	return nil
}

// run commits the pending batch FlushInterval after it stopped being empty,
// or at once when someone waits or much is queued. At stop it commits what
// is left and returns.
func (s *Store) run() {
	defer close(s.exited)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.wake:
			timer.Reset(s.interval)
			select {
			case <-timer.C:
			case <-s.urgent:
				timer.Stop()
			case <-s.stop:
				s.commit()
				return
			}
		case <-s.urgent:
		case <-s.stop:
			s.commit()
			return
		}
		s.commit()
	}
}

// commit applies the pending batch in one transaction. An op that fails is
// logged and skipped: one bad record must not cost the others. A panic from
// bbolt (a page damaged since Open) fails the batch, not the host.
func (s *Store) commit() {
	s.mu.Lock()
	b := s.pending
	if len(b.ops) == 0 {
		s.mu.Unlock()
		return
	}
	s.pending = newBatch()
	s.inflight = b
	s.mu.Unlock()

	b.err = s.update(func(tx *bolt.Tx) error {
		for _, o := range b.ops {
			if err := o.apply(tx); err != nil {
				s.log.Error("store write failed", "op", o.what, "error", err)
				if o.err != nil {
					*o.err = err
				}
			}
		}
		return saveLastEventSeq(tx, b.lastEventSeq)
	})
	if b.err != nil {
		s.log.Error("store commit failed", "ops", len(b.ops), "error", b.err)
		s.outSize = map[string]int64{} // it counted bytes that were rolled back
	}

	s.mu.Lock()
	s.inflight = nil
	s.queued -= b.bytes
	s.drained.Broadcast()
	s.mu.Unlock()
	close(b.done)
}

// update and view run bbolt transactions, turning its panics into errors.
func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	defer recoverBolt(s.path, &err)
	return s.db.Update(fn)
}

// view reads after the writes queued before it.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if err := s.fresh(); err != nil {
		return err
	}
	return s.read(fn)
}

// read reads what is committed.
func (s *Store) read(fn func(tx *bolt.Tx) error) (err error) {
	defer recoverBolt(s.path, &err)
	return s.db.View(fn)
}

func recoverBolt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("store %s: bbolt: %v (the file may be damaged)", path, r)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
