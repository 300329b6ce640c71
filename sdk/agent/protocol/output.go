package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// historySize is how much of a task's output is kept for followers
	// that join late or fall behind: its most recent part, which says
	// most about what the task is doing now.
	historySize = 1 << 20
	// chunkSize bounds one delivery to a follower, well under gRPC's
	// default 4 MiB message limit.
	chunkSize = 32 << 10
)

// errTaskEnded is what a Handler's late writes get.
var errTaskEnded = errors.New("task already ended")

// outputs holds the output of the running tasks, by task id, for
// StreamOutput to follow.
type outputs struct {
	mu    sync.Mutex
	tasks map[string]*taskOutput
}

func newOutputs() *outputs {
	return &outputs{tasks: make(map[string]*taskOutput)}
}

// taskOutput is one task's output. Writers append to buf and never wait
// for followers; each follower keeps its own offset into the stream, so a
// slow one only falls behind, and past historySize loses the oldest part.
type taskOutput struct {
	// Guarded by outputs.mu: whether the task runs, and how many follow
	// it, which decide when the entry leaves the map.
	running   bool
	followers int

	mu    sync.Mutex
	buf   []byte
	base  int64         // stream offset of buf[0]
	ended bool          // the task ended; no more writes
	wake  chan struct{} // closed, and replaced, on every change
}

// start registers the running task id and returns the writer for its
// output and the function that ends it. Tasks without an id have nobody
// to follow them, so their output is dropped.
func (o *outputs) start(id string) (io.Writer, func(), error) {
	if id == "" {
		return io.Discard, func() {}, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tasks[id]
	if t == nil {
		t = &taskOutput{wake: make(chan struct{})}
		o.tasks[id] = t
	}
	if t.running {
		return nil, nil, fmt.Errorf("%w: task %q is already running", ErrInvalid, id)
	}
	t.running = true
	end := func() {
		o.mu.Lock()
		// Followers still hold t and see it ended; new ones wait for
		// the next task with this id.
		delete(o.tasks, id)
		o.mu.Unlock()
		t.end()
	}
	return t, end, nil
}

// follow calls send with the output of task id, from its oldest kept part
// on, until the task ended or ctx is done. If the task hasn't started, it
// waits for it.
func (o *outputs) follow(ctx context.Context, id string, send func([]byte) error) error {
	o.mu.Lock()
	t := o.tasks[id]
	if t == nil {
		t = &taskOutput{wake: make(chan struct{})}
		o.tasks[id] = t
	}
	t.followers++
	o.mu.Unlock()

	defer func() {
		o.mu.Lock()
		t.followers--
		// A task that never started would otherwise keep its entry.
		if t.followers == 0 && !t.running && o.tasks[id] == t {
			delete(o.tasks, id)
		}
		o.mu.Unlock()
	}()

	var off int64
	for {
		chunk, ended, wake := t.next(&off)
		if len(chunk) > 0 {
			if err := send(chunk); err != nil {
				return err
			}
			continue
		}
		if ended {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next returns the output from *off on, at most chunkSize of it, and
// advances *off past it. With nothing new, it returns whether the task
// ended and a channel closed on the next change.
func (t *taskOutput) next(off *int64) (chunk []byte, ended bool, wake <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if *off < t.base {
		*off = t.base // fell behind what is kept
	}
	rest := t.buf[*off-t.base:]
	if len(rest) > chunkSize {
		rest = rest[:chunkSize]
	}
	// Copied, because trimming reuses buf's memory.
	chunk = append([]byte(nil), rest...)
	*off += int64(len(chunk))
	return chunk, t.ended, t.wake
}

// Write appends p to the task's output.
func (t *taskOutput) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return 0, errTaskEnded
	}
	if len(p) == 0 {
		return 0, nil
	}
	t.buf = append(t.buf, p...)
	// Trimmed only once twice the history piled up, so that trimming
	// costs a copy per historySize written, not per write.
	if over := len(t.buf) - historySize; over > historySize {
		t.buf = t.buf[:copy(t.buf, t.buf[over:])]
		t.base += int64(over)
	}
	t.notify()
	return len(p), nil
}

func (t *taskOutput) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	t.notify()
}

// notify wakes every follower. Called with t.mu held.
func (t *taskOutput) notify() {
	close(t.wake)
	t.wake = make(chan struct{})
}
