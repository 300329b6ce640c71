// Package scrollback keeps an agent's terminal output for a runtime: the last
// bytes in a ring, read by any number of attached readers, each at its own
// pace. A runtime reads its PTY or stream into a Ring without ever
// blocking, so the agent never stalls on a slow or absent reader; a reader
// that falls further behind than the ring holds skips ahead.
package scrollback

import (
	"io"
	"sync"
	"sync/atomic"
)

// Ring keeps the last size bytes written to it. Positions are absolute
// offsets into everything ever written, so each reader knows where it is
// and whether it fell behind.
type Ring struct {
	size int

	mu     sync.Mutex
	buf    []byte
	end    int64 // offset of the next byte to be written
	closed bool
	wake   chan struct{} // closed and replaced on every write, closed for good on Close
}

// NewRing reserves the whole ring at once: growing it by appends would
// copy it over and over at full output speed, and the pages of a large
// allocation cost no memory until output reaches them.
func NewRing(size int) *Ring {
	return &Ring{size: max(size, 1), buf: make([]byte, 0, max(size, 1)), wake: make(chan struct{})}
}

// Write keeps p, dropping the oldest bytes beyond the ring's size. It
// never fails and never waits for readers.
func (r *Ring) Write(p []byte) (int, error) {
	n := len(p)
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
		r.buf = r.buf[:r.size]
		at := int(r.end % int64(r.size))
		c := copy(r.buf[at:], p)
		copy(r.buf, p[c:])
	}
	r.end += int64(len(p))
	// After Close, wake stays closed: readers are not to block any more.
	// Late output (from leftover processes holding the terminal) is still
	// kept for whoever reads it before EOF.
	if !r.closed {
		close(r.wake)
		r.wake = make(chan struct{})
	}
	return n, nil
}

// Close marks the end of the output: readers that caught up get io.EOF.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.wake)
	}
}

// Written is the number of bytes ever written.
func (r *Ring) Written() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.end
}

// read copies from *pos into p and advances *pos. A reader that fell
// behind what the ring holds skips ahead; skipped says by how much. With
// nothing to read it returns a channel closed when there may be, or eof
// once the ring is closed and fully read.
func (r *Ring) read(pos *int64, p []byte) (n int, skipped int64, wake <-chan struct{}, eof bool) {
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

// Reader reads a Ring from the oldest byte it held when the Reader was
// made. Read blocks until there is output, and returns io.EOF once the
// ring is closed and read, or io.ErrClosedPipe after Close.
type Reader struct {
	r      *Ring
	onSkip func(skipped int64)

	mu  sync.Mutex
	pos int64

	closeOnce sync.Once
	closed    chan struct{}
}

// NewReader starts a reader at the oldest byte the ring still holds.
// onSkip, if not nil, is told how many bytes the reader missed whenever it
// fell behind.
func (r *Ring) NewReader(onSkip func(skipped int64)) *Reader {
	r.mu.Lock()
	oldest := max(0, r.end-int64(r.size))
	r.mu.Unlock()
	return &Reader{r: r, onSkip: onSkip, pos: oldest, closed: make(chan struct{})}
}

func (rd *Reader) Read(p []byte) (int, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	for {
		if rd.isClosed() {
			return 0, io.ErrClosedPipe
		}
		n, skipped, wake, eof := rd.r.read(&rd.pos, p)
		if skipped > 0 && rd.onSkip != nil {
			rd.onSkip(skipped)
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
		if eof {
			return 0, io.EOF
		}
		select {
		case <-wake:
		case <-rd.closed:
			return 0, io.ErrClosedPipe
		}
	}
}

// Close ends the reader; a blocked Read returns.
func (rd *Reader) Close() error {
	rd.closeOnce.Do(func() { close(rd.closed) })
	return nil
}

func (rd *Reader) isClosed() bool {
	select {
	case <-rd.closed:
		return true
	default:
		return false
	}
}

// Conn is one attach to a Ring, what a runtime's Attach returns: reads
// come from the ring at the Conn's own pace (see Reader), writes go to the
// agent's input. Close detaches; the agent runs on.
type Conn struct {
	*Reader
	write  func(p []byte) (int, error)
	closed atomic.Bool
}

// NewConn attaches to r from the oldest byte it holds; write delivers
// input to the agent. onSkip is as for NewReader.
func (r *Ring) NewConn(onSkip func(skipped int64), write func(p []byte) (int, error)) *Conn {
	return &Conn{Reader: r.NewReader(onSkip), write: write}
}

func (c *Conn) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, io.ErrClosedPipe
	}
	return c.write(p)
}

func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.Reader.Close()
}
