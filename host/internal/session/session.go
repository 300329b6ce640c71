package session

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/screen"
)

// Status is where a session is in its life.
type Status string

const (
	StatusStarting Status = "starting"
	StatusReady    Status = "ready"
	StatusBusy     Status = "busy"
	StatusError    Status = "error"
	StatusStopped  Status = "stopped"
)

// titledQuietSettles is how many Settles of a still screen end a turn of
// a CLI that titles its work (adapter.Titled) when neither its title nor
// its screen showed the turn.
const titledQuietSettles = 20

// Live reports whether the agent's process may still run.
func (s Status) Live() bool {
	return s == StatusStarting || s == StatusReady || s == StatusBusy
}

// Message is a reply of the agent.
type Message struct {
	Content string    `json:"content"`
	Role    string    `json:"role"`
	Time    time.Time `json:"time"`
}

// Prompt is a question or a login prompt the agent waits on, as the API
// shows it.
type Prompt struct {
	// Type is events.Question or events.LoginRequired.
	Type     events.Name `json:"type"`
	Question string      `json:"question,omitempty"`
	Choices  []string    `json:"choices,omitempty"`
	// Selected is the index into Choices of the highlighted choice, or -1.
	Selected   int    `json:"selected"`
	LoginURL   string `json:"loginUrl,omitempty"`
	DeviceCode string `json:"deviceCode,omitempty"`
	// Message is the adapter's word on what the agent wants, such as how
	// to log in, or "".
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"-"`
}

func (p *Prompt) String() string {
	switch {
	case p.login() && p.LoginURL != "":
		return "login required at " + p.LoginURL
	case p.login() && p.Message != "":
		return "login required: " + p.Message
	case p.login():
		return "login required"
	case len(p.Choices) > 0:
		return fmt.Sprintf("question %q with choices %q", p.Question, p.Choices)
	}
	return fmt.Sprintf("question %q", p.Question)
}

func (p *Prompt) same(q *Prompt) bool {
	return p.Type == q.Type && p.Question == q.Question && slices.Equal(p.Choices, q.Choices) &&
		p.LoginURL == q.LoginURL && p.DeviceCode == q.DeviceCode && p.Message == q.Message
}

var (
	// ErrBusy: the agent is working on a turn, or another message is
	// being sent. Sessions refuse rather than queue.
	ErrBusy = errors.New("agent is busy")
	// ErrBlocked: the agent waits for an answer to a question or a login;
	// the error names the prompt.
	ErrBlocked = errors.New("agent waits for an answer")
	// ErrStopped: the agent's process has ended.
	ErrStopped = errors.New("agent has stopped")
	// ErrFailed: the agent is in error; the error carries the reason.
	ErrFailed = errors.New("agent is in error")
	// ErrNoReaction: the screen didn't change after the message and two
	// Enters.
	ErrNoReaction = errors.New("agent did not react to the message")
	// ErrNoQuestion: Choose without a pending question.
	ErrNoQuestion = errors.New("no question is pending")
	// ErrUnknownKey: SendKeys got a key name it doesn't know.
	ErrUnknownKey = errors.New("unknown key")
	// ErrNoSuchChoice: Choose got a number that isn't offered.
	ErrNoSuchChoice = errors.New("no such choice")
)

// Options configure a session.
type Options struct {
	ID      string
	Adapter adapter.Adapter
	// Input is where keys go: the runtime's attach stream.
	Input io.Writer
	// Answers, if not nil, gets the screen's answers to the program's
	// terminal queries (device attributes, cursor position, colours),
	// which some CLIs wait for at start.
	Answers    io.Writer
	Cols, Rows int
	Logger     hclog.Logger
	// OnEvent gets the events in order, with the session's ID as their
	// AgentID: status, agent_ready, agent_error, question, login_required
	// and message. It must not block, and must not call Send, SendKeys or
	// Choose.
	OnEvent func(events.Event)
	// OnSent, if set, hears of each message Send typed and entered, once
	// the agent took it.
	OnSent func(text string, expectResponse bool)
	// StartTimeout is how long the agent may take to become ready, 60s by
	// default; negative means forever. The clock stops while a question or
	// login prompt is pending (the agent waits for the user then), and
	// starts over once it is answered.
	StartTimeout time.Duration
	// Settle is how long the screen must be unchanged before a state other
	// than busy counts; 250ms by default.
	Settle time.Duration
	// RegionSettle is how long an adapter's ready region (the input box
	// and the rows under it, see adapter.Regioned) must be unchanged for
	// ready to count at start; 60ms by default. A change elsewhere on the
	// screen, such as an animated logo, doesn't hold ready back.
	RegionSettle time.Duration
	// Throttle is the least time between detections while output
	// streams; 40ms by default.
	Throttle time.Duration
	// ReactTimeout bounds the waits for the echo of typed text and for the
	// screen to react to Enter; 1s by default.
	ReactTimeout time.Duration
	// KeyGap is the pause between keys, so menus see separate keypresses;
	// 50ms by default.
	KeyGap time.Duration
}

// Session is one managed agent.
type Session struct {
	opts   Options
	log    hclog.Logger
	screen *screen.Screen

	// inMu keeps one writer of keys at a time.
	inMu sync.Mutex
	// detectMu keeps one detection at a time; it guards seen, changedAt and
	// det. Locks are taken in the order detectMu, emitMu, mu.
	detectMu    sync.Mutex
	seen        uint64
	seenSignals screen.Signals
	changedAt   time.Time
	// region is the adapter's ready region as last seen, and regionAt
	// when it last changed (see adapter.Regioned).
	region   string
	regionAt time.Time
	// seenWritten is the screen's Written at the last detection; waiters
	// for any output at all are woken when it moves.
	seenWritten uint64
	det         adapter.Detection
	// emitMu delivers events in the order they happened.
	emitMu sync.Mutex

	mu     sync.Mutex
	status Status
	errMsg string
	// failed is set by Exited: an error no later screen can undo.
	failed  bool
	exited  bool
	pending *Prompt
	sending bool
	// turnSawBusy: the adapter saw busy since the agent last went busy.
	turnSawBusy bool
	// turnMarks is the count of prompt marks (screen.Signals.PromptEnds)
	// when the last turn began: a mark past it ends the turn; turnTitles
	// the count of titles then.
	turnMarks, turnTitles uint64
	// turnText is the message of the last turn; turnTitled says its
	// title showed it busy; turnPrior is the reply the screen already
	// showed to that text when the turn began (the same message sent
	// before), which is no answer to this turn.
	turnText, turnPrior string
	turnTitled          bool
	// readies counts transitions to ready, and readyLines is the screen
	// at the last one, so a Send knows its turn ended and what it showed;
	// readyScrolled is the screen's Scrolled then, so a Send also gets
	// what scrolled off during its turn.
	readies       uint64
	readyLines    screen.Lines
	readyScrolled uint64
	// readyProven: a positive signal proved the last ready (see
	// adapter.Detection.Proven).
	readyProven bool
	// changed is closed and replaced when the status, the prompt or the
	// screen changed, to wake the waiters of Send.
	changed chan struct{}
	// outputWaiters counts the waits for any output (waitOutput), which
	// Feed wakes at once.
	outputWaiters int

	timer      *time.Timer
	armed      bool
	armedAt    time.Time
	lastTick   time.Time
	startTimer *time.Timer
	// startExpired: StartTimeout passed while a prompt was pending.
	startExpired bool
}

// New starts a session in status starting. Detection begins with the
// first Feed.
func New(opts Options) (*Session, error) {
	if opts.Adapter == nil {
		return nil, errors.New("session: an adapter is required")
	}
	if opts.Input == nil {
		return nil, errors.New("session: an input writer is required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	setDefault(&opts.StartTimeout, 60*time.Second)
	setDefault(&opts.Settle, 250*time.Millisecond)
	setDefault(&opts.RegionSettle, 60*time.Millisecond)
	setDefault(&opts.Throttle, 40*time.Millisecond)
	setDefault(&opts.ReactTimeout, time.Second)
	setDefault(&opts.KeyGap, 50*time.Millisecond)
	s := &Session{
		opts:    opts,
		log:     opts.Logger.With("agent", opts.ID),
		screen:  screen.New(opts.Cols, opts.Rows),
		status:  StatusStarting,
		changed: make(chan struct{}),
		det:     adapter.Detection{Selected: -1},
	}
	if opts.Answers != nil {
		s.screen.SetResponder(opts.Answers)
	}
	if opts.StartTimeout > 0 {
		s.startTimer = time.AfterFunc(opts.StartTimeout, s.startTimeout)
	}
	// A program that prints nothing must still be judged once: the blank
	// screen is its first screen.
	s.changedAt = time.Now()
	s.det = opts.Adapter.Detect(s.screen.Lines())
	s.mu.Lock()
	s.armLocked(opts.Settle)
	s.mu.Unlock()
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// ID returns the session's ID.
func (s *Session) ID() string { return s.opts.ID }

// Status returns the status.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Error returns why the session is in error, or "".
func (s *Session) Error() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errMsg
}

// Pending returns the question or login prompt the agent waits on, or nil.
func (s *Session) Pending() *Prompt {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return nil
	}
	p := *s.pending
	p.Choices = slices.Clone(p.Choices)
	return &p
}

// Screen returns the visible rows.
func (s *Session) Screen() screen.Lines { return s.screen.Lines() }

// Feed takes output of the agent. It is cheap: detection runs later, on a
// timer this arms.
func (s *Session) Feed(p []byte) {
	if len(p) == 0 {
		return
	}
	s.screen.Write(p)
	s.mu.Lock()
	if !s.exited {
		wait := max(s.opts.Throttle-time.Since(s.lastTick), 0)
		if s.status == StatusBusy && s.screen.Signals().PromptEnds > s.turnMarks {
			// A prompt marked: the turn is over, no need to wait.
			wait = 0
		}
		// The first output after a pause is looked at at once, what
		// streams after it once per Throttle.
		s.armLocked(wait)
		if s.outputWaiters > 0 {
			s.broadcastLocked()
		}
	}
	s.mu.Unlock()
}

// Resize changes the size of the screen model; the runtime's PTY is
// resized by the caller.
func (s *Session) Resize(cols, rows int) {
	s.screen.Resize(cols, rows)
	s.mu.Lock()
	if !s.exited {
		s.armLocked(s.opts.Throttle)
	}
	s.mu.Unlock()
}

// Exited ends the session: the agent's process is gone. failed makes the
// status error with reason, rather than stopped.
func (s *Session) Exited(reason string, failed bool) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	if s.exited {
		s.mu.Unlock()
		return
	}
	s.exited = true
	s.armed = false
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.startTimer != nil {
		s.startTimer.Stop()
	}
	s.pending = nil
	var evs []events.Event
	if failed {
		s.failed = true
		evs = s.failLocked(reason)
	} else {
		s.errMsg = ""
		evs = append(evs, s.setStatusLocked(StatusStopped, reason))
	}
	s.broadcastLocked()
	s.mu.Unlock()
	s.emit(evs)
}

// armLocked makes sure a detection runs within d.
func (s *Session) armLocked(d time.Duration) {
	at := time.Now().Add(d)
	if s.armed && !at.Before(s.armedAt) {
		return
	}
	s.armed, s.armedAt = true, at
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.tick)
	} else {
		s.timer.Reset(d)
	}
}

// tick runs the detector on the screen and moves the state machine.
func (s *Session) tick() {
	s.detectMu.Lock()
	defer s.detectMu.Unlock()
	s.mu.Lock()
	s.armed = false
	s.lastTick = time.Now()
	exited := s.exited
	s.mu.Unlock()
	if exited {
		return
	}

	v := s.screen.Look()
	lines, scrolled := v.Lines, v.Scrolled
	now := time.Now()
	moved := v.Changes != s.seen || v.Signals != s.seenSignals
	if v.Changes != s.seen {
		s.seen, s.changedAt = v.Changes, now
	}
	if moved {
		s.seenSignals = v.Signals
		s.det = s.opts.Adapter.Detect(lines)
		s.noteRegion(lines, now)
	}
	det := s.det

	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	det = s.promptMarksLocked(det, v.Signals)
	s.noteBusyTitleLocked()
	if det.State == adapter.StateReady && s.status == StatusBusy && s.titleBusy(v.Signals.Title) {
		// The CLI still says in its title that it works: its screen
		// may not show it yet.
		det = adapter.Detection{Selected: -1}
	}
	need := s.opts.Settle
	quiet := now.Sub(s.changedAt)
	switch {
	case det.State != adapter.StateReady:
	case s.status == StatusBusy && !s.turnSawBusy && !s.answeredLocked(lines):
		// Some spinners take a moment to show after Enter; without one,
		// the turn ends only after a longer quiet of the whole screen.
		need = 4 * s.opts.Settle
		if _, ok := s.opts.Adapter.(adapter.Titled); ok {
			// A CLI that titles its work does so on every turn, yet
			// on a loaded machine may be still for a second after
			// Enter first: the end of a turn that never began costs
			// an empty reply, waiting costs only time (a command that
			// starts no turn).
			need = titledQuietSettles * s.opts.Settle
		}
	case s.status == StatusBusy && s.turnText != "" && s.opts.Adapter.Reply(nil, lines, s.turnText) == "":
		// The turn was seen busy, yet no reply to it shows: it may go
		// on (Gemini CLI runs a message queued while it started only
		// after a moment at its prompt), so only a longer quiet ends it.
		need = 4 * s.opts.Settle
	case s.region != "":
		// Otherwise the prompt's own rows being still is enough: while
		// the CLI works they show it (a reply streams behind a spinner
		// there), and a logo elsewhere may animate on. At start, briefly.
		quiet = now.Sub(s.regionAt)
		if s.status == StatusStarting || s.turnTitled {
			// And briefly, at start or when the title, busy during the
			// turn, is at rest again: two signals agree.
			need = s.opts.RegionSettle
		}
	}
	if det.State == adapter.StateReady && det.Still > need {
		need = det.Still
	}
	settled := quiet >= need
	evs := s.applyLocked(det, settled, lines, scrolled)
	if !settled && !s.exited {
		s.armLocked(need - quiet)
	}
	if moved || len(evs) > 0 || v.Written != s.seenWritten {
		s.broadcastLocked()
	}
	s.seenWritten = v.Written
	s.mu.Unlock()
	s.emit(evs)
}

// promptMarksLocked reads the prompt marks of a program that emits them
// (OSC 133, as shells do with the host's prompt integration): a prompt
// drawn since the turn began proves the agent ready; until one is, a turn
// has not ended, however still the screen. What the adapter read
// otherwise (a question, busy, an error) stands.
func (s *Session) promptMarksLocked(det adapter.Detection, sig screen.Signals) adapter.Detection {
	if sig.PromptEnds == 0 || (det.State != adapter.StateReady && det.State != adapter.StateUnknown) {
		return det
	}
	if sig.PromptEnds > s.turnMarks {
		return adapter.Detection{State: adapter.StateReady, Rule: "prompt mark (OSC 133)", Selected: -1, Proven: true}
	}
	if s.status == StatusBusy {
		return adapter.Detection{Selected: -1}
	}
	return det
}

// noteRegion keeps the adapter's ready region of lines (adapter.Regioned)
// and when it last changed. Called under detectMu.
func (s *Session) noteRegion(lines screen.Lines, now time.Time) {
	r, ok := s.opts.Adapter.(adapter.Regioned)
	if !ok {
		return
	}
	region := strings.Join(r.ReadyRegion(lines), "\n")
	if region != s.region {
		s.region, s.regionAt = region, now
	}
}

// answeredLocked says the screen holds a reply to the turn's message
// from a CLI that shows its work (adapter.Titled): a turn answered at
// once may show no spinner or busy title at all, and its reply proves
// it happened.
func (s *Session) answeredLocked(lines screen.Lines) bool {
	if _, ok := s.opts.Adapter.(adapter.Titled); !ok || s.turnText == "" {
		return false
	}
	r := s.opts.Adapter.Reply(nil, lines, s.turnText)
	return r != "" && r != s.turnPrior
}

// titleBusy says the adapter reads title as the CLI at work.
func (s *Session) titleBusy(title string) bool {
	t, ok := s.opts.Adapter.(adapter.Titled)
	return ok && t.BusyTitle(title)
}

// noteBusyTitleLocked counts a busy title since the turn began (see
// adapter.Titled) as the turn's busy: a fast turn may show its spinner on
// screen only between two detections, but its title stays in the screen's
// record.
func (s *Session) noteBusyTitleLocked() {
	t, ok := s.opts.Adapter.(adapter.Titled)
	if !ok || s.status != StatusBusy || s.turnTitled {
		return
	}
	for _, title := range s.screen.TitlesSince(s.turnTitles) {
		if t.BusyTitle(title) {
			s.turnSawBusy, s.turnTitled = true, true
			return
		}
	}
}

func (s *Session) applyLocked(det adapter.Detection, settled bool, lines screen.Lines, scrolled uint64) []events.Event {
	var evs []events.Event
	if s.exited || s.failed {
		return nil
	}
	switch det.State {
	case adapter.StateQuestion, adapter.StateLoginRequired:
		if settled {
			evs = append(evs, s.setPendingLocked(det)...)
		}
	default:
		if s.pending != nil && (settled || det.State != adapter.StateUnknown) {
			s.log.Debug("prompt answered", "prompt", s.pending.String())
			s.pending = nil
		}
		if s.startExpired && s.pending == nil && s.status == StatusStarting {
			// The prompt that held the start timeout is answered: the
			// agent gets a whole StartTimeout again.
			s.startExpired = false
			s.startTimer.Reset(s.opts.StartTimeout)
		}
	}

	switch det.State {
	case adapter.StateReady:
		if !(settled || det.Proven) || s.status == StatusReady {
			break
		}
		from := s.status
		s.errMsg = ""
		s.readies++
		s.readyLines, s.readyScrolled = lines, scrolled
		s.readyProven = det.Proven
		if s.startTimer != nil {
			s.startTimer.Stop()
		}
		evs = append(evs, s.setStatusLocked(StatusReady, "prompt shown: "+det.Rule))
		if from != StatusBusy {
			evs = append(evs, s.event(events.AgentReadyData{}))
		}
	case adapter.StateBusy:
		// From starting, a spinner is the agent loading, not a turn.
		if s.status == StatusReady || s.status == StatusError {
			s.errMsg = ""
			evs = append(evs, s.setStatusLocked(StatusBusy, "working: "+det.Rule))
		}
		if s.status == StatusBusy {
			s.turnSawBusy = true
		}
	case adapter.StateError:
		if settled && s.status != StatusError {
			msg := det.Message
			if msg == "" {
				msg = det.Rule
			}
			evs = append(evs, s.failLocked(msg)...)
		}
	}
	return evs
}

func (s *Session) setPendingLocked(det adapter.Detection) []events.Event {
	p := &Prompt{
		Type: events.Name(det.State), Question: det.Question, Choices: det.Choices, Selected: det.Selected,
		LoginURL: det.LoginURL, DeviceCode: det.DeviceCode, Message: det.Message, Since: time.Now(),
	}
	if s.pending != nil && s.pending.same(p) {
		s.pending.Selected = p.Selected
		return nil
	}
	s.pending = p
	s.log.Info("agent waits for an answer", "prompt", p.String())
	var asked *events.Asked
	if p.Question != "" || len(p.Choices) > 0 {
		asked = &events.Asked{Question: p.Question, Choices: slices.Clone(p.Choices), Selected: p.Selected}
	}
	if p.login() {
		return []events.Event{s.event(events.LoginRequiredData{LoginURL: p.LoginURL, DeviceCode: p.DeviceCode, Message: p.Message, Asked: asked})}
	}
	return []events.Event{s.event(events.QuestionData{Asked: asked, Message: p.Message})}
}

// login says whether p is a login prompt rather than a question.
func (p *Prompt) login() bool { return p.Type == events.LoginRequired }

func (s *Session) failLocked(reason string) []events.Event {
	s.errMsg = reason
	return []events.Event{
		s.setStatusLocked(StatusError, reason),
		s.event(events.AgentErrorData{Error: reason}),
	}
}

func (s *Session) setStatusLocked(to Status, reason string) events.Event {
	from := s.status
	s.status = to
	if to == StatusBusy && from != StatusBusy {
		s.turnSawBusy, s.turnTitled = false, false
	}
	s.log.Debug("status", "from", from, "to", to, "reason", reason)
	return s.event(events.StatusData{From: string(from), To: string(to), Reason: reason})
}

// event is the session's event with data d, stamped now.
func (s *Session) event(d events.Data) events.Event {
	e := events.New(s.opts.ID, d)
	e.Time = time.Now().UTC()
	return e
}

// emit delivers events; the caller holds emitMu, not mu.
func (s *Session) emit(evs []events.Event) {
	if s.opts.OnEvent == nil {
		return
	}
	for _, e := range evs {
		s.opts.OnEvent(e)
	}
}

func (s *Session) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Session) startTimeout() {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	if s.status != StatusStarting || s.exited {
		s.mu.Unlock()
		return
	}
	lines := s.screen.Lines()
	// A prompt may be on screen but not settled yet.
	if st := s.opts.Adapter.Detect(lines).State; s.pending != nil || st == adapter.StateQuestion || st == adapter.StateLoginRequired {
		s.startExpired = true
		s.mu.Unlock()
		return
	}
	reason := fmt.Sprintf("not ready after %s; the screen shows:\n%s", s.opts.StartTimeout, screenText(lines))
	evs := s.failLocked(reason)
	s.broadcastLocked()
	s.mu.Unlock()
	s.emit(evs)
}

// screenText is the screen without its blank rows at the top and bottom,
// at most 2000 bytes from the end.
func screenText(lines screen.Lines) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	text := lines.Text()
	if len(text) > 2000 {
		cut := len(text) - 2000
		for cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut++
		}
		text = "…" + text[cut:]
	}
	return text
}

// timersArmed counts the session's armed timers, for tests of idleness.
func (s *Session) timersArmed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if s.armed {
		n++
	}
	if s.status == StatusStarting && s.startTimer != nil && !s.startExpired {
		n++
	}
	return n
}
