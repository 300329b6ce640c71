package docker

import "sync"

// ring keeps the last size bytes of an agent's output, so an Attach made
// after the agent printed still sees it. Positions are absolute offsets
// into everything the agent ever wrote, so each reader knows where it is
// and whether it fell behind.
type ring struct {
	size int

	mu     sync.Mutex
	buf    []byte // grows up to size, then wraps
	end    int64  // offset of the next byte to be written
	closed bool
	wake   chan struct{} // closed and replaced on every write, closed for good on close
}

func newRing(size int) *ring {
	return &ring{size: size, buf: make([]byte, 0, min(size, 4096)), wake: make(chan struct{})}
}

func (r *ring) write(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p) > r.size {
		r.end += int64(len(p) - r.size)
		p = p[len(p)-r.size:]
	}
	if r.end+int64(len(p)) <= int64(r.size) {
		// Not wrapped yet: the buffer holds [0, end) in order.
		r.buf = append(r.buf[:r.end], p...)
	} else {
		if len(r.buf) < r.size {
			r.buf = append(r.buf, make([]byte, r.size-len(r.buf))...)
		}
		at := int(r.end % int64(r.size))
		n := copy(r.buf[at:], p)
		copy(r.buf, p[n:])
	}
	r.end += int64(len(p))
	if !r.closed {
		close(r.wake)
		r.wake = make(chan struct{})
	}
}

// close marks the end of the output: readers that caught up get EOF.
func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.wake)
	}
}

func (r *ring) written() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.end
}

// oldest is the offset of the oldest byte still held.
func (r *ring) oldest() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(0, r.end-int64(r.size))
}

// read copies from *pos into p and advances *pos. A reader that fell
// behind what the ring holds skips ahead; skipped says by how much. With
// nothing to read it returns a channel closed when there may be, or eof
// once the ring is closed and fully read.
func (r *ring) read(pos *int64, p []byte) (n int, skipped int64, wake <-chan struct{}, eof bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if oldest := max(0, r.end-int64(r.size)); *pos < oldest {
		skipped, *pos = oldest-*pos, oldest
	}
	if avail := r.end - *pos; avail < int64(len(p)) {
		p = p[:avail]
	}
	for len(p) > 0 {
		at := int(*pos % int64(r.size))
		c := copy(p, r.buf[at:min(len(r.buf), at+len(p))])
		n += c
		*pos += int64(c)
		p = p[c:]
	}
	return n, skipped, r.wake, r.closed && *pos == r.end
}
