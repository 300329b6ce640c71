package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/screen"
)

// Send types text into the agent's prompt and presses Enter, the way the
// CLIs need it. Claude, Codex and Gemini take text and Enter that arrive
// in one read as a paste and drop the Enter, and a numbered menu reads
// the ESC that starts a bracketed paste as cancel. So:
//
//  1. Refuse at once with ErrBusy if the agent is busy or another Send is
//     under way, with ErrBlocked if it waits for an answer; if it is still
//     starting, wait for ready.
//  2. Type the text: plain bytes for one line, a bracketed paste for more.
//  3. Wait (up to slowReact ReactTimeouts) until the screen echoes it and
//     is quiet, so the Enter doesn't arrive in the same read and count as
//     pasted, nor the late echo pass for the reaction to Enter.
//  4. Press Enter as a write of its own, and wait until the screen reacts;
//     if it doesn't within ReactTimeout, press Enter once more and wait up
//     to slowReact ReactTimeouts.
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
	text, err := CleanText(text)
	if err != nil {
		return Message{}, err
	}
	// A trailing newline would be an Enter in the same write.
	text = strings.TrimRight(text, "\n")

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
	err = s.wait(ctx, func() bool {
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

	before, mark, readies, err := s.typeAndEnter(ctx, text)
	if err != nil {
		return Message{}, err
	}
	if s.opts.OnSent != nil {
		s.opts.OnSent(text, expectResponse)
	}
	if !expectResponse {
		return Message{}, nil
	}

	var after screen.Lines
	var end uint64
	err = s.wait(ctx, func() bool {
		switch {
		case s.readies > readies:
			after, end = s.readyLines, s.readyScrolled
			return true
		case s.status == StatusError || s.status == StatusStopped:
			refused = s.sendableLocked()
			return true
		case s.pending != nil && s.pending.login():
			// The turn ended at a login (the key was refused, say): no
			// reply is coming. A question, though, is part of the turn.
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
	// A reply taller than the screen scrolled its start off the top: the
	// adapter reads the lines that did during the turn, then the screen.
	if scrolled := s.screen.ScrolledLines(mark, end); len(scrolled) > 0 {
		after = append(screen.Lines(scrolled), after...)
	}
	return s.replied(s.opts.Adapter.Reply(before, after, text)), nil
}

// replied makes the reply a turn ended with a message, and tells the
// session's watchers.
func (s *Session) replied(content string) Message {
	msg := Message{Content: content, Role: "assistant", Time: time.Now()}
	s.emitMu.Lock()
	s.emit([]events.Event{s.event(events.MessageData{Content: msg.Content, Role: msg.Role, Time: msg.Time})})
	s.emitMu.Unlock()
	return msg
}

// AwaitReply finishes a turn that began before this session did: a Send
// of text that a host restart cut off. It waits for the agent's first
// ready, which ends that turn (or shows it ended while no one watched),
// and returns the reply as Send would, also as a message event.
func (s *Session) AwaitReply(ctx context.Context, text string) (Message, error) {
	var refused error
	var after screen.Lines
	err := s.wait(ctx, func() bool {
		switch {
		case s.readies > 0:
			after = s.readyLines
			return true
		case s.status == StatusError || s.status == StatusStopped || (s.pending != nil && s.pending.login()):
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
	return s.replied(s.opts.Adapter.Reply(nil, after, text)), nil
}

// typeAndEnter does steps 2 to 5 of Send. It returns the screen before
// typing, the screen's Scrolled then, and the count of readies before
// Enter.
func (s *Session) typeAndEnter(ctx context.Context, text string) (screen.Lines, uint64, uint64, error) {
	s.inMu.Lock()
	defer s.inMu.Unlock()

	// A program whose prompt a signal proves (a mark, a ready pattern)
	// is waited for by any output, not by the throttled screen.
	s.mu.Lock()
	proven := s.readyProven
	s.mu.Unlock()
	before, c0, mark := s.screen.SnapshotScrolled()
	w0 := s.screen.Written()
	payload := text
	if strings.ContainsAny(text, "\r\n") {
		payload = "\x1b[200~" + text + "\x1b[201~"
	}
	if _, err := s.opts.Input.Write([]byte(payload)); err != nil {
		return nil, 0, 0, s.exitOr(ctx, fmt.Errorf("typing the message: %w", err))
	}
	if s.waitReaction(ctx, proven, c0, w0, slowReact*s.opts.ReactTimeout) {
		// A program that marks its prompts is a shell's line editor,
		// which takes text and Enter in one read as typed.
		if s.screen.Signals().PromptEnds == 0 {
			s.waitQuiet(ctx)
		}
	} else {
		s.log.Debug("no echo of the typed text; pressing Enter anyway")
	}
	if err := s.exitErr(); err != nil {
		return nil, 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}

	s.mu.Lock()
	readies := s.readies
	sig := s.screen.Signals()
	s.turnMarks, s.turnTitles, s.turnText, s.turnPrior = sig.PromptEnds, sig.Titles, text, ""
	if _, ok := s.opts.Adapter.(adapter.Titled); ok {
		s.turnPrior = s.opts.Adapter.Reply(nil, before, text)
	}
	s.mu.Unlock()
	c1 := s.screen.Changes()
	// A shell reacts to Enter by moving the cursor, and then may run a
	// quiet command: for a program whose prompt is proven by a signal (a
	// mark, a ready pattern), any output is the reaction.
	w1 := s.screen.Written()
	reacted := false
	for try := 0; try < 2 && !reacted; try++ {
		if _, err := s.opts.Input.Write([]byte("\r")); err != nil {
			return nil, 0, 0, s.exitOr(ctx, fmt.Errorf("pressing Enter: %w", err))
		}
		wait := s.opts.ReactTimeout
		if try > 0 {
			wait *= slowReact
		}
		reacted = s.waitReaction(ctx, proven, c1, w1, wait)
		if err := s.exitErr(); err != nil {
			return nil, 0, 0, err
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, err
		}
	}
	if !reacted {
		return nil, 0, 0, ErrNoReaction
	}

	s.emitMu.Lock()
	s.mu.Lock()
	var evs []events.Event
	// Unless detection saw the turn already, or even saw it end.
	if s.status == StatusReady && s.readies == readies {
		evs = append(evs, s.setStatusLocked(StatusBusy, "message sent"))
		s.broadcastLocked()
		// The turn must end by detection even if no more output comes;
		// a prompt marked meanwhile ends it now.
		s.armLocked(0)
	}
	s.mu.Unlock()
	s.emit(evs)
	s.emitMu.Unlock()
	return before, mark, readies, nil
}

// slowReact is how many ReactTimeouts Send waits for what a loaded
// machine may hold up for seconds but then does come: the echo of typed
// text, and a reaction to the second Enter. Typing is echoed at once by an
// agent that is not starved for CPU, so this costs nothing then; on a
// starved one, an Enter pressed before the echo arrives with the text (and
// is taken as pasted), and the late echo then passes for the turn's start,
// whose end is then judged by a quiet screen before the agent even began.
const slowReact = 10

// waitScreen waits up to d for the screen to differ from the count since,
// or the agent to exit; false if neither happened.
func (s *Session) waitScreen(ctx context.Context, since uint64, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.wait(ctx, func() bool {
		return s.screen.Changes() != since || s.status == StatusBusy || s.exited
	}) == nil
}

// waitReaction waits up to d for the agent to react to what was typed:
// the screen to change past its Changes count c or, for a program whose
// prompt a signal proves, any output past its Written count w.
func (s *Session) waitReaction(ctx context.Context, proven bool, c, w uint64, d time.Duration) bool {
	if proven {
		return s.waitOutput(ctx, w, d)
	}
	return s.waitScreen(ctx, c, d)
}

// waitOutput waits up to d for any output past the screen's Written
// count since, or the agent to exit; false if neither happened.
func (s *Session) waitOutput(ctx context.Context, since uint64, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	s.mu.Lock()
	s.outputWaiters++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.outputWaiters--
		s.mu.Unlock()
	}()
	return s.wait(ctx, func() bool {
		return s.screen.Written() != since || s.status == StatusBusy || s.exited
	}) == nil
}

// exitErr is why a Send can't go on once the agent exited (ErrStopped or
// ErrFailed, with the reason), or nil while it runs.
func (s *Session) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exited {
		return nil
	}
	return s.sendableLocked()
}

// exitOr turns a failed write into the agent's exit when that is why it
// failed: the terminal closes before the exit is recorded, so it waits
// for the exit a little. Otherwise err stands.
func (s *Session) exitOr(ctx context.Context, err error) error {
	ctx, cancel := context.WithTimeout(ctx, slowReact*s.opts.ReactTimeout)
	defer cancel()
	_ = s.wait(ctx, func() bool { return s.exited })
	if exit := s.exitErr(); exit != nil {
		return fmt.Errorf("%w (%v)", exit, err)
	}
	return err
}

// ErrControlChar: a message holds a control character other than newline
// and tab. Typed raw, one would be a keystroke: Ctrl-C (U+0003) can end
// the agent, and ESC can end the bracketed paste early.
var ErrControlChar = errors.New("control character in the message")

// CleanText readies a message for Send: "\r\n" line endings become "\n",
// and any other control character, a lone "\r" included, is refused with
// an error wrapping ErrControlChar.
func CleanText(text string) (string, error) {
	for i, r := range text {
		if r == '\r' && strings.HasPrefix(text[i+1:], "\n") {
			continue
		}
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return "", fmt.Errorf("%w: %U at byte %d; only newline and tab may appear in a message, and keys such as Ctrl-C or Esc are sent as keys", ErrControlChar, r, i)
		}
	}
	return strings.ReplaceAll(text, "\r\n", "\n"), nil
}

// waitQuiet waits, up to ReactTimeout, until the screen stays unchanged for
// a Throttle: the agent has read all that was typed.
func (s *Session) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(s.opts.ReactTimeout)
	c := s.quietKey()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.opts.Throttle):
		}
		next := s.quietKey()
		if next == c {
			return
		}
		c = next
	}
}

// quietKey is what waitQuiet watches: the adapter's ready region, where
// the typed text is echoed, when it has one (an animation elsewhere never
// stops), else the count of the screen's changes.
func (s *Session) quietKey() string {
	if r, ok := s.opts.Adapter.(adapter.Regioned); ok {
		if region := r.ReadyRegion(s.screen.Lines()); region != nil {
			return region.Text()
		}
	}
	return strconv.FormatUint(s.screen.Changes(), 10)
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
	seqs, err := s.keySeqs(names)
	if err != nil {
		return err
	}
	if s.Status() == StatusStopped {
		return ErrStopped
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.writeKeys(names, seqs)
}

// keySeqs maps key names to what a terminal sends for them.
func (s *Session) keySeqs(names []string) ([]string, error) {
	appCursor := s.screen.AppCursor()
	seqs := make([]string, 0, len(names))
	for _, name := range names {
		if text, ok := strings.CutPrefix(name, "text:"); ok {
			seqs = append(seqs, text)
			continue
		}
		seq, ok := keys[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("%w %q: use Up, Down, Left, Right, Enter, Esc, Tab, ShiftTab, Space, Backspace, Delete, Home, End, PageUp, PageDown, CtrlC, CtrlD or \"text:...\"", ErrUnknownKey, name)
		}
		if appCursor && len(seq) == 3 && seq[1] == '[' && strings.ContainsRune("ABCD", rune(seq[2])) {
			seq = "\x1bO" + seq[2:]
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// writeKeys writes seqs, KeyGap apart; the caller holds inMu.
func (s *Session) writeKeys(names, seqs []string) error {
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

// chooseTries bounds how often Choose moves the highlight before it gives
// up without pressing Enter.
const chooseTries = 3

// Choose picks choice n (from 1) of the pending question: arrows from the
// highlighted choice to n, then Enter. When the screen shows no highlight
// it types the digit alone, which the CLIs' menus take as the choice.
// The prompt clears once the screen moves on.
//
// Enter goes only once the screen shows choice n highlighted, and has for
// a KeyGap. A menu acts on Enter with the highlight it has drawn last: an
// Enter that comes before an arrow is drawn (a busy agent reads both in
// one go) picks the choice the arrow was to leave, and an arrow the menu
// never saw leaves the highlight where it was. Choose reads the highlight
// off the screen and moves it again, up to chooseTries times; if it never
// gets there it presses nothing more and returns an error wrapping
// ErrNoReaction.
func (s *Session) Choose(n int) error {
	p := s.Pending()
	if p == nil {
		return ErrNoQuestion
	}
	if len(p.Choices) > 0 && (n < 1 || n > len(p.Choices)) {
		return fmt.Errorf("%w: %d is not one of 1 to %d", ErrNoSuchChoice, n, len(p.Choices))
	}
	if p.Selected < 0 || len(p.Choices) == 0 {
		return s.SendKeys([]string{"text:" + strconv.Itoa(n)})
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	want := n - 1
	// Where the highlight is now, which may not be where it was when the
	// question was seen.
	sel, shown := s.watchMenu(p, func(int) bool { return true })
	for try := 0; ; try++ {
		if !shown {
			return fmt.Errorf("%w: %s left the screen before choice %d was picked", ErrNoQuestion, p, n)
		}
		if sel == want {
			break
		}
		if sel < 0 {
			// The highlight is gone from the screen: the number alone.
			return s.writeKeys([]string{"text"}, []string{strconv.Itoa(n)})
		}
		if try == chooseTries {
			return fmt.Errorf("%w: choice %d stays highlighted after moving to choice %d %d times", ErrNoReaction, sel+1, n, chooseTries)
		}
		var names []string
		for i := sel; i < want; i++ {
			names = append(names, "Down")
		}
		for i := sel; i > want; i-- {
			names = append(names, "Up")
		}
		seqs, err := s.keySeqs(names)
		if err != nil {
			return err
		}
		if err := s.writeKeys(names, seqs); err != nil {
			return err
		}
		sel, shown = s.watchMenu(p, func(sel int) bool { return sel == want })
	}
	if s.Status() == StatusStopped {
		return ErrStopped
	}
	if _, err := s.opts.Input.Write([]byte("\r")); err != nil {
		return fmt.Errorf("sending key %q: %w", "Enter", err)
	}
	return nil
}

// menuPoll is how often Choose reads the screen while it waits for a
// menu's highlight.
const menuPoll = 5 * time.Millisecond

// watchMenu reads question p off the live screen until it shows with a
// highlight that done accepts, unchanged for a KeyGap; or until the screen
// has not changed for a ReactTimeout (the agent drew all it was going to),
// or slowReact ReactTimeouts passed. It returns the highlight (from 0) it read
// last and whether p was on screen then.
func (s *Session) watchMenu(p *Prompt, done func(sel int) bool) (sel int, shown bool) {
	start := time.Now()
	c := s.screen.Changes()
	changedAt, heldSince := start, start
	sel, shown = s.menuOnScreen(p)
	for {
		now := time.Now()
		ok := shown && done(sel)
		switch {
		case ok && now.Sub(heldSince) >= s.opts.KeyGap:
			return sel, shown
		case !ok && now.Sub(changedAt) >= s.opts.ReactTimeout,
			now.Sub(start) >= slowReact*s.opts.ReactTimeout,
			s.Status() == StatusStopped:
			return sel, shown
		}
		time.Sleep(menuPoll)
		if next := s.screen.Changes(); next != c {
			c, changedAt = next, time.Now()
			wasSel, wasShown := sel, shown
			sel, shown = s.menuOnScreen(p)
			if sel != wasSel || shown != wasShown {
				heldSince = changedAt
			}
		}
	}
}

// menuOnScreen reads the live screen: whether it shows question p, and
// which of its choices is highlighted.
func (s *Session) menuOnScreen(p *Prompt) (sel int, shown bool) {
	det := s.opts.Adapter.Detect(s.screen.Lines())
	if events.Name(det.State) != p.Type || det.Question != p.Question || !slices.Equal(det.Choices, p.Choices) {
		return -1, false
	}
	return det.Selected, true
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
