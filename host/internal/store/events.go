package store

import (
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// An event is kept under its seq, its time (Unix nanoseconds) before its
// JSON, so that Sweep can tell its age without decoding it. The last seq is
// kept in meta too: clients resume from a seq, so seqs must keep growing
// across restarts even once Sweep removed every event.

// eventsPage bounds the events read in one transaction, so that a slow fn
// in EventsSince does not hold a read transaction (which can stall a
// commit that must grow the file).
const eventsPage = 256

// LastEventSeq returns the highest seq ever appended, queued ones included.
func (s *Store) LastEventSeq() uint64 { return s.lastEventSeq.Load() }

// AppendEvent queues event seq, which happened at at, as raw JSON. The
// caller numbers events from LastEventSeq()+1 up.
func (s *Store) AppendEvent(seq uint64, at time.Time, raw []byte) {
	if at.IsZero() {
		at = time.Now()
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(raw)), uint64(at.UnixNano()))
	v = append(v, raw...)
	for {
		cur := s.lastEventSeq.Load()
		if seq <= cur || s.lastEventSeq.CompareAndSwap(cur, seq) {
			break
		}
	}
	s.enqueue(op{what: "event", apply: func(tx *bolt.Tx) error {
		return appendOnly(tx.Bucket(bucketEvents)).Put(u64(seq), v)
	}}, int64(len(v)), func(b *batch) { b.lastEventSeq = max(b.lastEventSeq, seq) })
}

// EventsSince calls fn with every event kept with a seq above seq, in
// order, until fn returns an error, which it returns.
func (s *Store) EventsSince(seq uint64, fn func(seq uint64, raw []byte) error) error {
	if err := s.fresh(); err != nil {
		return err
	}
	type event struct {
		seq uint64
		raw []byte
	}
	for seq < math.MaxUint64 {
		var page []event
		err := s.read(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketEvents).Cursor()
			for k, v := c.Seek(u64(seq + 1)); k != nil && len(page) < eventsPage; k, v = c.Next() {
				// Checking each seq grows keeps a damaged file from
				// looping forever.
				if len(k) == 8 && len(v) >= 8 && binary.BigEndian.Uint64(k) > seq {
					page = append(page, event{binary.BigEndian.Uint64(k), clone(v[8:])})
				}
			}
			return nil
		})
		if err != nil || len(page) == 0 {
			return err
		}
		for _, e := range page {
			if err := fn(e.seq, e.raw); err != nil {
				return err
			}
		}
		seq = page[len(page)-1].seq
	}
	return nil
}

// eventTime returns when a kept event happened.
func eventTime(v []byte) (time.Time, bool) {
	if len(v) < 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// lastEventSeq returns the highest seq the file knows.
func lastEventSeq(tx *bolt.Tx) uint64 {
	var seq uint64
	if v := tx.Bucket(bucketMeta).Get(keyLastEventSeq); len(v) == 8 {
		seq = binary.BigEndian.Uint64(v)
	}
	if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); len(k) == 8 {
		seq = max(seq, binary.BigEndian.Uint64(k))
	}
	return seq
}

// saveLastEventSeq keeps seq in meta if it is the highest yet.
func saveLastEventSeq(tx *bolt.Tx, seq uint64) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyLastEventSeq); seq == 0 || len(v) == 8 && binary.BigEndian.Uint64(v) >= seq {
		return nil
	}
	return meta.Put(keyLastEventSeq, u64(seq))
}
