package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// An execution is kept under its id, its start (Unix nanoseconds) before
// its JSON, so that it can be sorted and swept without decoding it.

// PutExecution queues pattern execution id, started at startedAt, as raw
// JSON; it replaces the one kept before.
func (s *Store) PutExecution(id string, startedAt time.Time, raw []byte) {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(raw)), uint64(startedAt.UnixNano()))
	v = append(v, raw...)
	s.enqueue(op{what: "execution " + id, apply: func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExecutions).Put([]byte(id), v)
	}}, int64(len(v)), nil)
}

// Execution returns execution id's JSON, and whether it is kept.
func (s *Store) Execution(id string) ([]byte, bool, error) {
	var raw []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketExecutions).Get([]byte(id)); len(v) >= 8 {
			raw = clone(v[8:])
		}
		return nil
	})
	return raw, raw != nil, err
}

// Executions returns every execution's JSON, the earliest started first.
func (s *Store) Executions() ([][]byte, error) {
	type execution struct {
		id, v []byte
	}
	var all []execution
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExecutions).ForEach(func(k, v []byte) error {
			if len(v) >= 8 {
				all = append(all, execution{clone(k), clone(v)})
			}
			return nil
		})
	})
	slices.SortFunc(all, func(a, b execution) int {
		return cmp.Or(cmp.Compare(startOf(a.v), startOf(b.v)), bytes.Compare(a.id, b.id))
	})
	out := make([][]byte, len(all))
	for i, e := range all {
		out[i] = e.v[8:]
	}
	return out, err
}

func startOf(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }
