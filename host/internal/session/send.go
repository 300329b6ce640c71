package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
)

// Send types text into the agent's prompt and presses Enter, the way the
// CLIs need it (docs/agent-clis.md, "Sending text"):
//
//  1. Refuse at once with ErrBusy if the agent is busy or another Send is
//     under way, with ErrBlocked if it waits for an answer; if it is still
//     starting, wait for ready.
//  2. Type the text: plain bytes for one line, a bracketed paste for more.
//  3. Wait (up to ReactTimeout) until the screen echoes it and is quiet, so
//     the Enter doesn't arrive in the same read and count as pasted.
//  4. Press Enter as a write of its own, and wait until the screen reacts;
//     if it doesn't within ReactTimeout, press Enter once more.
//  5. The agent is now busy. Without expectResponse, return.
//  6. Wait for ready again, settled; the reply is what the adapter reads
//     off the screens before and after. It is also sent as a message event.
//
// timeout, if positive, bounds the whole call. When it passes mid-turn the
// agent stays busy and the error wraps context.DeadlineExceeded.
func (s *Session) Send(ctx context.Context, text string, expectResponse bool, timeout time.Duration) (Message, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// A trailing newline would be an Enter in the same write.
	text = strings.TrimRight(text, "\r\n")

	s.mu.Lock()
	if s.sending {
		s.mu.Unlock()
		return Message{}, fmt.Errorf("%w: another message is being sent", ErrBusy)
	}
	if err := s.sendableLocked(); err != nil && s.status != StatusStarting {
		s.mu.Unlock()
		return Message{}, err
	}
	s.sending = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.sending = false
		s.mu.Unlock()
	}()

	var refused error
	err := s.wait(ctx, func() bool {
		if s.status == StatusStarting && s.pending == nil {
			return false
		}
		refused = s.sendableLocked()
		return true
	})
	if err != nil {
		return Message{}, fmt.Errorf("waiting for the agent to be ready: %w", err)
	}
	if refused != nil {
		return Message{}, refused
	}

	before, readies, err := s.typeAndEnter(ctx, text)
	if err != nil {
		return Message{}, err
	}
	if !expectResponse {
		return Message{}, nil
	}

	var after adapter.Screen
	err = s.wait(ctx, func() bool {
		switch {
		case s.readies > readies:
			after = s.readyLines
			return true
		case s.status == StatusError || s.status == StatusStopped:
			refused = s.sendableLocked()
			return true
		}
		return false
	})
	if err != nil {
		return Message{}, fmt.Errorf("waiting for the reply: %w", err)
	}
	if refused != nil {
		return Message{}, refused
	}
	msg := Message{Content: s.opts.Adapter.Reply(before, after, text), Role: "assistant", Time: time.Now()}
	s.emitMu.Lock()
	s.emit([]Event{s.event(EventMessage, map[string]any{"content": msg.Content, "role": msg.Role, "time": msg.Time})})
	s.emitMu.Unlock()
	return msg, nil
}

// typeAndEnter does steps 2 to 5 of Send. It returns the screen before
// typing and the count of readies before Enter.
func (s *Session) typeAndEnter(ctx context.Context, text string) (adapter.Screen, uint64, error) {
	s.inMu.Lock()
	defer s.inMu.Unlock()

	before, c0 := s.screen.Snapshot()
	payload := text
	if strings.ContainsAny(text, "\r\n") {
		payload = "\x1b[200~" + text + "\x1b[201~"
	}
	if _, err := s.opts.Input.Write([]byte(payload)); err != nil {
		return nil, 0, fmt.Errorf("typing the message: %w", err)
	}
	if s.waitScreen(ctx, c0) {
		s.waitQuiet(ctx)
	} else {
		s.log.Debug("no echo of the typed text; pressing Enter anyway")
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}

	s.mu.Lock()
	readies := s.readies
	s.mu.Unlock()
	c1 := s.screen.Changes()
	reacted := false
	for try := 0; try < 2 && !reacted; try++ {
		if _, err := s.opts.Input.Write([]byte("\r")); err != nil {
			return nil, 0, fmt.Errorf("pressing Enter: %w", err)
		}
		reacted = s.waitScreen(ctx, c1)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	if !reacted {
		return nil, 0, ErrNoReaction
	}

	s.emitMu.Lock()
	s.mu.Lock()
	var evs []Event
	// Unless detection saw the turn already, or even saw it end.
	if s.status == StatusReady && s.readies == readies {
		evs = append(evs, s.setStatusLocked(StatusBusy, "message sent"))
		s.broadcastLocked()
		// The turn must end by detection even if no more output comes.
		s.armLocked(s.opts.Settle)
	}
	s.mu.Unlock()
	s.emit(evs)
	s.emitMu.Unlock()
	return before, readies, nil
}

// waitScreen waits up to ReactTimeout for the screen to differ from the
// count since; false if it didn't.
func (s *Session) waitScreen(ctx context.Context, since uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReactTimeout)
	defer cancel()
	return s.wait(ctx, func() bool {
		return s.screen.Changes() != since || s.status == StatusBusy
	}) == nil
}

// waitQuiet waits, up to ReactTimeout, until the screen stays unchanged for
// a Throttle: the agent has read all that was typed.
func (s *Session) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(s.opts.ReactTimeout)
	c := s.screen.Changes()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.opts.Throttle):
		}
		next := s.screen.Changes()
		if next == c {
			return
		}
		c = next
	}
}

// wait blocks until cond, called with mu held, is true.
func (s *Session) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keys maps key names to the bytes a terminal sends.
var keys = map[string]string{
	"up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
	"enter": "\r", "esc": "\x1b", "escape": "\x1b", "tab": "\t", "shifttab": "\x1b[Z",
	"space": " ", "backspace": "\x7f", "ctrlc": "\x03", "ctrld": "\x04",
	"home": "\x1b[H", "end": "\x1b[F", "pageup": "\x1b[5~", "pagedown": "\x1b[6~", "delete": "\x1b[3~",
}

// SendKeys presses keys, each as a write of its own with KeyGap between,
// so menus see separate keypresses. Names: Up, Down, Left, Right, Enter,
// Esc, Tab, ShiftTab, Space, Backspace, Delete, Home, End, PageUp,
// PageDown, CtrlC, CtrlD (any case), or "text:" and literal text.
func (s *Session) SendKeys(names []string) error {
	appCursor := s.screen.AppCursor()
	seqs := make([]string, 0, len(names))
	for _, name := range names {
		if text, ok := strings.CutPrefix(name, "text:"); ok {
			seqs = append(seqs, text)
			continue
		}
		seq, ok := keys[strings.ToLower(name)]
		if !ok {
			return fmt.Errorf("unknown key %q", name)
		}
		if appCursor && len(seq) == 3 && seq[1] == '[' && strings.ContainsRune("ABCD", rune(seq[2])) {
			seq = "\x1bO" + seq[2:]
		}
		seqs = append(seqs, seq)
	}
	if s.Status() == StatusStopped {
		return ErrStopped
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	for i, seq := range seqs {
		if i > 0 {
			time.Sleep(s.opts.KeyGap)
		}
		if _, err := s.opts.Input.Write([]byte(seq)); err != nil {
			return fmt.Errorf("sending key %q: %w", names[i], err)
		}
	}
	return nil
}

// Choose picks choice n (from 1) of the pending question: arrows from the
// highlighted choice to n, then Enter. When the screen shows no highlight
// it types the digit alone, which the CLIs' menus take as the choice.
// The prompt clears once the screen moves on.
func (s *Session) Choose(n int) error {
	p := s.Pending()
	if p == nil {
		return ErrNoQuestion
	}
	if len(p.Choices) > 0 && (n < 1 || n > len(p.Choices)) {
		return fmt.Errorf("choice %d is not one of 1 to %d", n, len(p.Choices))
	}
	if p.Selected < 0 || len(p.Choices) == 0 {
		return s.SendKeys([]string{"text:" + strconv.Itoa(n)})
	}
	var ks []string
	for i := p.Selected; i < n-1; i++ {
		ks = append(ks, "Down")
	}
	for i := p.Selected; i > n-1; i-- {
		ks = append(ks, "Up")
	}
	return s.SendKeys(append(ks, "Enter"))
}

// sendableLocked says why a message can't be typed now, or nil.
func (s *Session) sendableLocked() error {
	switch {
	case s.pending != nil:
		return fmt.Errorf("%w: %s", ErrBlocked, s.pending)
	case s.status == StatusBusy:
		return fmt.Errorf("%w: it is working on a turn", ErrBusy)
	case s.status == StatusStopped:
		return ErrStopped
	case s.status == StatusError:
		return fmt.Errorf("%w: %s", ErrFailed, s.errMsg)
	case s.status == StatusStarting:
		return fmt.Errorf("%w: it is still starting", ErrBusy)
	}
	return nil
}
