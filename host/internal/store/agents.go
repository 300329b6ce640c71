package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Agent is one agent's record. The caller never puts a credential in it.
type Agent struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Runtime      string          `json:"runtime,omitempty"`
	Role         string          `json:"role,omitempty"`
	Workdir      string          `json:"workdir,omitempty"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Command      []string        `json:"command,omitempty"`
	Request      json.RawMessage `json:"request,omitempty"` // the spawn request, without credentials
	CreatedAt    time.Time       `json:"createdAt"`
	Status       string          `json:"status"`
	Error        string          `json:"error,omitempty"`
	Statuses     []StatusChange  `json:"statuses,omitempty"` // the last MaxStatuses
	Exit         *Exit           `json:"exit,omitempty"`
	EndedAt      *time.Time      `json:"endedAt,omitempty"`
	// Removed is set once the agent was deleted: it then shows only in
	// history.
	Removed bool `json:"removed,omitempty"`
	// Pooled is set while the agent idles in the warm pool.
	Pooled bool `json:"pooled,omitempty"`
}

// StatusChange is one change of an agent's status.
type StatusChange struct {
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Exit is how an agent's process ended.
type Exit struct {
	Code   int       `json:"code"`
	Signal string    `json:"signal,omitempty"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// PutAgent queues a's record, which replaces the one kept before.
func (s *Store) PutAgent(a Agent) {
	o, err := putAgent(a)
	if err != nil {
		s.log.Error("agent record not kept", "agent", a.ID, "error", err)
		return
	}
	s.enqueue(o, 0, nil)
}

// PutAgentSync writes a's record and returns once it is on disk.
func (s *Store) PutAgentSync(a Agent) error {
	o, err := putAgent(a)
	if err != nil {
		return err
	}
	return s.sync(o, nil)
}

// putAgent marshals a now, so that the caller may change it once we return.
func putAgent(a Agent) (op, error) {
	if a.ID == "" {
		return op{}, errors.New("store: agent record without an id")
	}
	if n := len(a.Statuses); n > MaxStatuses {
		a.Statuses = a.Statuses[n-MaxStatuses:]
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return op{}, fmt.Errorf("store: agent %s: %w", a.ID, err)
	}
	return op{what: "put agent " + a.ID, apply: func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).Put([]byte(a.ID), raw)
	}}, nil
}

// Agent returns agent id's record, and whether there is one.
func (s *Store) Agent(id string) (Agent, bool, error) {
	var (
		a     Agent
		found bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketAgents).Get([]byte(id))
		if raw == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("store: agent %s: %w", id, err)
		}
		return nil
	})
	return a, found && err == nil, err
}

// Agents returns every record, oldest first. A record that does not decode
// is logged and left out, so that one cannot hide the others.
func (s *Store) Agents() ([]Agent, error) {
	var out []Agent
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).ForEach(func(k, v []byte) error {
			var a Agent
			if err := json.Unmarshal(v, &a); err != nil {
				s.log.Error("agent record does not decode", "agent", string(k), "error", err)
				return nil
			}
			out = append(out, a)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Agent) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Purge removes agent id's record, transcript and output, and returns once
// that is on disk. Writes queued for the agent before it go too.
func (s *Store) Purge(id string) error {
	o := op{what: "purge agent " + id, apply: func(tx *bolt.Tx) error {
		s.removeAgent(tx, id)
		return nil
	}}
	// Output queued after the purge must make a new chunk, not join one
	// queued before it.
	return s.sync(o, func(b *batch) { delete(b.output, id) })
}

// removeAgent deletes everything kept of agent id.
func (s *Store) removeAgent(tx *bolt.Tx, id string) {
	k := []byte(id)
	_ = tx.Bucket(bucketAgents).Delete(k)
	_ = tx.Bucket(bucketTranscripts).DeleteBucket(k) // ErrBucketNotFound: nothing kept
	_ = tx.Bucket(bucketOutput).DeleteBucket(k)
	delete(s.outSize, id)
}
