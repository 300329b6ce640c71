package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The kinds of transcript entries.
const (
	KindSent     = "sent"
	KindReply    = "reply"
	KindQuestion = "question"
	KindAnswer   = "answer"
)

// Entry is one line of an agent's transcript.
type Entry struct {
	Seq            uint64    `json:"seq"` // assigned by the store, per agent, from 1
	Time           time.Time `json:"time"`
	Kind           string    `json:"kind"`
	Text           string    `json:"text,omitempty"`
	Choices        []string  `json:"choices,omitempty"`
	ExpectResponse bool      `json:"expectResponse,omitempty"` // for KindSent
}

// AppendTranscript queues e at the end of agent agentID's transcript. The
// store numbers it; a zero Time becomes now.
func (s *Store) AppendTranscript(agentID string, e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Choices = slices.Clone(e.Choices)
	size := int64(len(e.Text))
	s.enqueue(op{what: "transcript of " + agentID, apply: func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketTranscripts).CreateBucketIfNotExists([]byte(agentID))
		if err != nil {
			return err
		}
		appendOnly(b)
		if e.Seq, err = b.NextSequence(); err != nil {
			return err
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(u64(e.Seq), raw)
	}}, size, nil)
}

// Transcript returns agent agentID's transcript in order. An entry that
// does not decode is logged and left out.
func (s *Store) Transcript(agentID string) ([]Entry, error) {
	var out []Entry
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTranscripts).Bucket([]byte(agentID))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				s.log.Error("transcript entry does not decode", "agent", agentID, "key", fmt.Sprintf("%x", k), "error", err)
				return nil
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}
