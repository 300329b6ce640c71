package testkubelet

import (
	"bytes"
	"sync"
)

// output is what a container writes to its terminal. It keeps the last
// limit bytes for containerLogs and hands every later write to each
// follower: an attach, or a log request with follow=true.
//
// Followers get their own queue, so a slow client never blocks the process
// (nor the other clients). A kubelet does not replay earlier output to an
// attach either, so a follower sees only what is written after it joined.
type output struct {
	limit int

	mu        sync.Mutex
	log       []byte
	followers map[*follower]struct{}
	closed    bool
}

func newOutput(limit int) *output {
	return &output{limit: limit, followers: make(map[*follower]struct{})}
}

// Write keeps p in the log and queues it for every follower.
func (o *output) Write(p []byte) (int, error) {
	chunk := bytes.Clone(p) // the caller reuses p; followers only read chunk

	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = append(o.log, chunk...)
	// Trim only once the log is twice its limit, so that trimming (a copy)
	// happens once per limit bytes written rather than on every write.
	if len(o.log) > 2*o.limit {
		o.log = append([]byte(nil), o.log[len(o.log)-o.limit:]...)
	}
	for f := range o.followers {
		f.push(chunk)
	}
	return len(p), nil
}

// snapshot returns the last limit bytes written.
func (o *output) snapshot() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.snapshotLocked()
}

func (o *output) snapshotLocked() []byte {
	return bytes.Clone(o.log[max(0, len(o.log)-o.limit):])
}

// follow returns the log so far and a follower for everything written
// after it, with no gap and no overlap between the two. If the output is
// already closed, the follower is closed too.
func (o *output) follow() ([]byte, *follower) {
	f := &follower{}
	f.cond.L = &f.mu

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		f.close()
	} else {
		o.followers[f] = struct{}{}
	}
	return o.snapshotLocked(), f
}

// unfollow stops f: its reader gets what is already queued, then the end.
func (o *output) unfollow(f *follower) {
	o.mu.Lock()
	delete(o.followers, f)
	o.mu.Unlock()
	f.close()
}

// close ends the output when the process has exited: every follower is
// closed, and later followers start closed.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for f := range o.followers {
		f.close()
	}
	clear(o.followers)
}

// followerCount returns how many followers there are, for tests.
func (o *output) followerCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.followers)
}

// follower is an unbounded queue of output chunks for one reader.
type follower struct {
	mu     sync.Mutex
	cond   sync.Cond
	chunks [][]byte
	closed bool
}

func (f *follower) push(chunk []byte) {
	f.mu.Lock()
	f.chunks = append(f.chunks, chunk)
	f.mu.Unlock()
	f.cond.Signal()
}

func (f *follower) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cond.Signal()
}

// next blocks for the next chunk. It returns false once the follower is
// closed and everything queued before has been returned.
func (f *follower) next() ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.chunks) == 0 && !f.closed {
		f.cond.Wait()
	}
	if len(f.chunks) == 0 {
		return nil, false
	}
	chunk := f.chunks[0]
	f.chunks[0] = nil
	f.chunks = f.chunks[1:]
	return chunk, true
}
