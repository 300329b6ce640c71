package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sweep removes what ended before cutoff: agents that ended before it
// (record, transcript and output), events that happened before it and
// executions that started before it. It returns once that is on disk, with
// how many agents it removed.
//
// It also removes transcripts and output whose agent has no record: bytes
// an agent's terminal wrote after its Purge would otherwise stay forever.
func (s *Store) Sweep(cutoff time.Time) (int, error) {
	var n int
	o := op{what: "sweep", apply: func(tx *bolt.Tx) (err error) {
		n, err = s.sweep(tx, cutoff)
		return err
	}}
	// Like Purge, the sweep may remove any agent's output.
	err := s.sync(o, func(b *batch) { clear(b.output) })
	return n, err
}

func (s *Store) sweep(tx *bolt.Tx, cutoff time.Time) (int, error) {
	agents := tx.Bucket(bucketAgents)
	var ended []string
	err := agents.ForEach(func(k, v []byte) error {
		var a struct {
			EndedAt *time.Time `json:"endedAt"`
		}
		if json.Unmarshal(v, &a) == nil && a.EndedAt != nil && a.EndedAt.Before(cutoff) {
			ended = append(ended, string(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ended {
		s.removeAgent(tx, id)
	}

	for _, name := range [][]byte{bucketTranscripts, bucketOutput} {
		parent := tx.Bucket(name)
		var orphans []string
		_ = parent.ForEachBucket(func(k []byte) error {
			if agents.Get(k) == nil {
				orphans = append(orphans, string(k))
			}
			return nil
		})
		for _, id := range orphans {
			if err := parent.DeleteBucket([]byte(id)); err != nil {
				return 0, err
			}
			delete(s.outSize, id)
		}
	}

	// Events are appended in time order, so the oldest come first; one
	// whose clock stepped back waits for a later sweep.
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.First(); k != nil && v != nil; k, v = c.First() {
		if at, ok := eventTime(v); ok && !at.Before(cutoff) {
			break
		}
		if err := c.Delete(); err != nil {
			return 0, err
		}
	}

	execs := tx.Bucket(bucketExecutions)
	var old [][]byte
	_ = execs.ForEach(func(k, v []byte) error {
		if v != nil && (len(v) < 8 || time.Unix(0, startOf(v)).Before(cutoff)) {
			old = append(old, clone(k))
		}
		return nil
	})
	for _, k := range old {
		if err := execs.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(ended), nil
}
