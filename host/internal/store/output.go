package store

import (
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// An agent's output is kept as chunks, one for each commit that had some,
// numbered in order. Up to OutputCap bytes stay: the oldest go first, down
// to the byte.

// AppendOutput queues p at the end of agent agentID's terminal output. It
// copies p and returns at once, unless far too much is queued: then it waits
// for a commit rather than drop output.
func (s *Store) AppendOutput(agentID string, p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.queued >= maxQueuedBytes && !s.closed {
		signal(s.urgent)
		s.drained.Wait()
	}
	if s.closed {
		s.log.Warn("write after close dropped", "op", "output of "+agentID)
		return
	}
	b := s.pending
	buf := b.output[agentID]
	if buf == nil {
		buf = &outBuf{}
		b.output[agentID] = buf
		s.add(op{what: "output of " + agentID, apply: func(tx *bolt.Tx) error {
			return s.putOutput(tx, agentID, buf.bytes(s.outputCap))
		}}, 0)
	}
	dropped := buf.write(p, s.outputCap)
	s.grew(b, int64(len(p))-dropped)
}

// outBuf is an agent's output queued for one commit. It is kept in blocks,
// so that appending never copies what came before, and it drops its oldest
// blocks once the others hold the cap: the commit would drop them anyway.
type outBuf struct {
	blocks [][]byte
	size   int64
}

const (
	minOutBlock = 1 << 10
	maxOutBlock = 64 << 10
)

// write appends a copy of p and returns how many bytes it dropped.
func (o *outBuf) write(p []byte, limit int64) (dropped int64) {
	o.size += int64(len(p))
	for len(p) > 0 {
		n := len(o.blocks)
		if n == 0 || len(o.blocks[n-1]) == cap(o.blocks[n-1]) {
			size := minOutBlock
			if n > 0 {
				size = min(2*cap(o.blocks[n-1]), maxOutBlock)
			}
			o.blocks = append(o.blocks, make([]byte, 0, size))
			n++
		}
		last := o.blocks[n-1]
		k := copy(last[len(last):cap(last)], p)
		o.blocks[n-1] = last[:len(last)+k]
		p = p[k:]
	}
	for len(o.blocks) > 1 && o.size-int64(len(o.blocks[0])) >= limit {
		dropped += int64(len(o.blocks[0]))
		o.size -= int64(len(o.blocks[0]))
		o.blocks[0] = nil
		o.blocks = o.blocks[1:]
	}
	return dropped
}

// bytes returns the last limit bytes (or fewer) in one slice.
func (o *outBuf) bytes(limit int64) []byte {
	skip := max(0, o.size-limit)
	out := make([]byte, 0, o.size-skip)
	for _, b := range o.blocks {
		if skip >= int64(len(b)) {
			skip -= int64(len(b))
			continue
		}
		out = append(out, b[skip:]...)
		skip = 0
	}
	return out
}

// putOutput adds data as agent id's next chunk and drops what goes over the
// cap: whole chunks first, then the head of the oldest one left, which is
// skipped rather than rewritten (that could rewrite MiBs each commit).
func (s *Store) putOutput(tx *bolt.Tx, id string, data []byte) error {
	parent, k := tx.Bucket(bucketOutput), []byte(id)
	if int64(len(data)) >= s.outputCap {
		// The new bytes alone fill the cap: nothing older stays.
		if err := parent.DeleteBucket(k); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		data = data[int64(len(data))-s.outputCap:]
		s.outSize[id] = 0
	}
	b, err := parent.CreateBucketIfNotExists(k)
	if err != nil {
		return err
	}
	appendOnly(b)
	size, ok := s.outSize[id]
	if !ok {
		size = keptSize(b)
	}
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	if err := b.Put(u64(n), data); err != nil {
		return err
	}
	size += int64(len(data))

	if size > s.outputCap {
		skip := skipOf(b)
		c := b.Cursor()
		for k, v := c.Seek(firstChunk); k != nil && size > s.outputCap; k, v = c.Seek(firstChunk) {
			kept := int64(len(v)) - skip
			if over := size - s.outputCap; kept > over {
				skip += over
				size = s.outputCap
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			size -= kept
			skip = 0
		}
		if err := b.Put(keySkip, u64(uint64(skip))); err != nil {
			return err
		}
	}
	s.outSize[id] = size
	return nil
}

// An agent's bucket keeps, under key 0 (chunks count from 1), how many bytes
// of its first chunk were dropped.
var (
	keySkip    = u64(0)
	firstChunk = u64(1)
)

// skipOf returns the bytes of b's first chunk that were dropped.
func skipOf(b *bolt.Bucket) int64 {
	v := b.Get(keySkip)
	if len(v) != 8 {
		return 0
	}
	_, first := b.Cursor().Seek(firstChunk)
	return min(int64(binary.BigEndian.Uint64(v)), int64(len(first)))
}

// chunks calls fn with each chunk of b, in order, the first one's dropped
// bytes left out.
func chunks(b *bolt.Bucket, fn func(p []byte)) {
	skip := skipOf(b)
	c := b.Cursor()
	for k, v := c.Seek(firstChunk); k != nil; k, v = c.Next() {
		fn(v[skip:])
		skip = 0
	}
}

func keptSize(b *bolt.Bucket) int64 {
	var n int64
	chunks(b, func(p []byte) { n += int64(len(p)) })
	return n
}

// Output returns agent agentID's output kept, in order.
func (s *Store) Output(agentID string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutput).Bucket([]byte(agentID))
		if b == nil {
			return nil
		}
		out = make([]byte, 0, keptSize(b))
		chunks(b, func(p []byte) { out = append(out, p...) })
		return nil
	})
	return out, err
}

// OutputSize returns how many bytes of agent agentID's output are kept.
func (s *Store) OutputSize(agentID string) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketOutput).Bucket([]byte(agentID)); b != nil {
			n = keptSize(b)
		}
		return nil
	})
	return n, err
}
