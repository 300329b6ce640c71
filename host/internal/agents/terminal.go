package agents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

// WatcherBuffer bounds the output queued for one terminal watcher. A
// watcher that falls this far behind is dropped, not skipped: a terminal
// stream with a hole in it draws garbage, while a dropped client can
// reconnect and get the screen again from the replay.
const WatcherBuffer = 1 << 20

// ErrTooSlow ends a watcher that fell WatcherBuffer bytes behind.
var ErrTooSlow = errors.New("terminal client too slow: it fell more than 1 MiB behind the agent's output")

// ErrAgentExited ends a watcher whose agent's output ended.
var ErrAgentExited = errors.New("the agent's terminal closed")

// Watcher follows one agent's terminal output.
type Watcher struct {
	// Replay is recent output, enough to draw the screen as it is now; Next
	// returns what comes after it, with nothing lost or repeated.
	Replay []byte

	a      *agent
	mu     sync.Mutex
	queue  []byte
	last   []byte        // what Next returned last, reused once done with
	err    error         // set once: why the watcher ended
	notify chan struct{} // poked when queue or err changes
	done   chan struct{} // closed when err is set
}

// Watch starts following agent id's terminal.
func (m *Manager) Watch(id string) (*Watcher, error) {
	a, err := m.find(id)
	if err != nil {
		return nil, err
	}
	w := &Watcher{a: a, notify: make(chan struct{}, 1), done: make(chan struct{})}
	a.termMu.Lock()
	defer a.termMu.Unlock()
	if max := m.opts.MaxWatchersPerAgent; max > 0 && len(a.watchers) >= max {
		return nil, &LimitError{Setting: "server.max_watchers_per_agent", Limit: max, What: "terminal clients watching this agent"}
	}
	w.Replay = replayable(a.output.Bytes(), a.output.Wrapped())
	if a.outputDropped && a.store != nil {
		out, err := a.store.Output(a.id)
		if err != nil {
			return nil, err
		}
		w.Replay = out
	}
	if a.termClosed {
		w.end(ErrAgentExited)
	} else {
		a.watchers[w] = struct{}{}
	}
	return w, nil
}

// replayable cuts the start of a ring that lost its beginning to a place
// where no escape sequence or UTF-8 rune is cut in half.
func replayable(b []byte, wrapped bool) []byte {
	if !wrapped {
		return b
	}
	if i := bytes.IndexAny(b, "\n\x1b"); i >= 0 {
		return b[i:]
	}
	return nil
}

// Next waits for output after what was returned before, and returns all
// of it at once. It returns ErrAgentExited once the last output was
// returned, ErrTooSlow at once, or ctx's error. What it returns is valid
// until the next call: the two buffers take turns, so a fast stream of
// output doesn't allocate.
func (w *Watcher) Next(ctx context.Context) ([]byte, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 && w.err != ErrTooSlow {
			out := w.queue
			w.queue, w.last = w.last[:0], out
			w.mu.Unlock()
			return out, nil
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Done is closed when the watcher ended; Err says why.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err says why the watcher ended, nil while it runs.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops following.
func (w *Watcher) Close() {
	w.a.termMu.Lock()
	delete(w.a.watchers, w)
	w.a.termMu.Unlock()
	w.end(io.EOF)
}

// push queues p; it reports false when the watcher is too far behind.
func (w *Watcher) push(p []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue)+len(p) > WatcherBuffer {
		return false
	}
	w.queue = append(w.queue, p...)
	w.poke()
	return true
}

func (w *Watcher) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.done)
	}
	w.poke()
}

func (w *Watcher) poke() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// fanOut passes output to the agent's watchers and drops the slow ones.
// Called with a.termMu held, after the output went into the ring.
func (a *agent) fanOut(p []byte) {
	for w := range a.watchers {
		if !w.push(p) {
			delete(a.watchers, w)
			w.end(ErrTooSlow)
		}
	}
}

// closeTerminal ends every watcher: no more output will come.
func (a *agent) closeTerminal() {
	a.termMu.Lock()
	defer a.termMu.Unlock()
	if !a.termClosed && a.store != nil {
		// The end of the output can't be the start of a secret any more.
		if rest := a.mask.Flush(); len(rest) > 0 {
			a.store.AppendOutput(a.id, rest)
		}
	}
	a.termClosed = true
	for w := range a.watchers {
		delete(a.watchers, w)
		w.end(ErrAgentExited)
	}
}

// Input types p into agent id's terminal, as a person at its keyboard.
func (m *Manager) Input(id string, p []byte) error {
	a, err := m.find(id)
	if err != nil {
		return err
	}
	conn, err := a.terminal()
	if err != nil {
		return err
	}
	if conn == nil {
		return fmt.Errorf("%w: agent %s has no terminal", ErrNoTerminal, id)
	}
	_, err = conn.Write(p)
	return err
}

// ErrNoTerminal means the agent's terminal is gone or was never attached.
var ErrNoTerminal = errors.New("no terminal")

// Resize changes the size of agent id's terminal: the runtime's PTY and
// the host's screen model alike.
func (m *Manager) Resize(id string, cols, rows int) error {
	if cols < 1 || rows < 1 || cols > 1000 || rows > 1000 {
		return &InputError{"cols", fmt.Sprintf("want a size between 1x1 and 1000x1000, got %dx%d", cols, rows)}
	}
	a, err := m.find(id)
	if err != nil {
		return err
	}
	conn, err := a.terminal()
	if err != nil {
		return err
	}
	if conn == nil {
		return fmt.Errorf("%w: agent %s has no terminal", ErrNoTerminal, id)
	}
	r, ok := conn.(plugin.Resizable)
	if !ok {
		return fmt.Errorf("%w: agent %s's runtime cannot resize it", runtime.ErrUnsupported, id)
	}
	if err := r.Resize(runtime.Size{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		return err
	}
	a.mu.Lock()
	sess := a.session
	a.mu.Unlock()
	if sess != nil {
		sess.Resize(cols, rows)
	}
	return nil
}

// terminal returns the agent's attach stream, nil when it has none, and
// ErrPooled for an idle warm pool agent, which nobody may type into.
func (a *agent) terminal() (io.Writer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pool != nil {
		return nil, fmt.Errorf("agent %s: %w", a.id, ErrPooled)
	}
	if a.conn == nil || !a.status.Live() {
		return nil, nil
	}
	return a.conn, nil
}

// queryAnswers passes the host's answers to an agent's terminal queries on
// while no terminal client watches. A client's own terminal (xterm.js, or
// the one behind attach) answers too, and a second answer would reach the
// program as typed text.
type queryAnswers struct {
	a    *agent
	conn io.Writer
}

func (q queryAnswers) Write(p []byte) (int, error) {
	q.a.termMu.Lock()
	watched := len(q.a.watchers) > 0
	q.a.termMu.Unlock()
	// A watcher's terminal can't answer for an idle pool agent: its
	// input is refused.
	watched = watched && q.a.pooled() == nil
	if watched {
		return len(p), nil
	}
	return q.conn.Write(p)
}
