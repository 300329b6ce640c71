// Command faketui behaves like an agent CLI's TUI, for the session tests:
// a splash, optionally a trust menu, a login screen or an error, then a
// prompt box; a message makes it think behind a spinner and reply with
// "● reply to: <message>" above the prompt. Flags make it draw slowly,
// split its output, or stream the reply.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"
)

var (
	splash  = flag.Duration("splash", 0, "show a splash screen this long")
	trust   = flag.Bool("trust", false, "ask whether to trust the folder first")
	login   = flag.Bool("login", false, "ask to sign in first")
	fail    = flag.String("error", "", "show this error instead of the prompt")
	slow    = flag.Duration("slow", 0, "draw the prompt box in pieces with this pause, ignoring input until done")
	think   = flag.Duration("think", 300*time.Millisecond, "how long a turn takes")
	chunked = flag.Bool("chunked", false, "write the frame with the reply in pieces of a few bytes")
	stream  = flag.Duration("stream", 0, "reveal the reply a word at a time with this pause, prompt box shown")
	still   = flag.Duration("still", 0, "after Enter, clear the input box and show nothing of the turn this long, writing what changes nothing on screen, as a CLI on a loaded machine")
	queue   = flag.Duration("queue", 0, "after Enter, show the message queued this long, then the bare prompt a moment before the turn, as Gemini CLI does while it starts")
	titled  = flag.Bool("titled", false, "put a spinner glyph in the window title while a turn runs, as Claude Code does")
	number  = flag.Bool("number", false, "number the replies: \"reply 2 to: …\"")
	animate = flag.Duration("animate", 0, "once the prompt shows, animate a logo on the top row this long, as Claude Code 2.1.332 does")
)

// inputCh carries each read of the terminal's input.
var inputCh = make(chan []byte, 64)

type mode int

const (
	modeSplash mode = iota
	modeTrust
	modeLogin
	modeError
	modeReady
	modeThinking
)

type tui struct {
	mode       mode
	cols, rows int
	selected   int
	transcript []string
	input      string
	spin       int
	// revealed is how many words of the last transcript line show, or -1
	// for all of it.
	revealed int
	// sent is the message of the turn; replies counts the turns ended.
	sent    string
	replies int
	// queued is the message shown queued, or "".
	queued string
}

func main() {
	flag.Parse()
	if old, err := termios(0, syscall.TCGETS, nil); err == nil {
		raw := old
		raw.Lflag &^= syscall.ECHO | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		raw.Iflag &^= syscall.ICRNL | syscall.IXON
		raw.Oflag &^= syscall.OPOST
		termios(0, syscall.TCSETS, &raw)
		defer termios(0, syscall.TCSETS, &old)
	}
	// Like Ink and ratatui apps: alternate screen, bracketed paste, kitty
	// keyboard, a title, a hidden cursor.
	out("\x1b[?1049h\x1b[?2004h\x1b[>1u\x1b]0;faketui\x07\x1b[?25l")
	defer out("\x1b[<u\x1b[?2004l\x1b[?1049l")

	t := &tui{revealed: -1}
	t.size()
	go func() {
		defer close(inputCh)
		buf := make([]byte, 4096)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				inputCh <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)

	t.mode = modeSplash
	t.draw()
	time.Sleep(*splash)
	t.next()

	var spinner <-chan time.Time
	var done, begin, redraw, unqueue <-chan time.Time
	var logo, logoEnd <-chan time.Time
	frame := 0
	if *animate > 0 && t.mode == modeReady {
		logo, logoEnd = time.Tick(50*time.Millisecond), time.After(*animate)
	}
	for {
		select {
		case <-logo:
			frame++
			out(fmt.Sprintf("\x1b7\x1b[1;1H\x1b[2K✻ logo frame %d\x1b8", frame))
		case <-logoEnd:
			logo = nil
			out("\x1b7\x1b[1;1H\x1b[2K✻ logo done\x1b8")
		case <-winch:
			t.size()
			t.draw()
		case <-spinner:
			t.spin++
			// Only the spinner row, in place, as TUIs do.
			out(fmt.Sprintf("\x1b7\x1b[%d;1H\x1b[2K%s\x1b8", t.spinnerRow(), t.spinnerText()))
		case <-done:
			spinner, done = nil, nil
			t.reply()
		case <-redraw:
			// Output, but nothing new on screen.
			out("\x1b[?25l")
		case <-unqueue:
			unqueue = nil
			t.queued = ""
			t.draw()
			// Longer than the tests' Settle, shorter than 4 of them.
			begin = time.After(800 * time.Millisecond)
		case <-begin:
			begin, redraw = nil, nil
			t.begin()
			spinner, done = time.Tick(80*time.Millisecond), time.After(*think)
		case chunk, ok := <-inputCh:
			if !ok {
				return
			}
			if t.key(chunk) {
				if *queue > 0 {
					t.queued = t.sent
					t.draw()
					unqueue = time.After(*queue)
					continue
				}
				if *still > 0 {
					t.draw()
					begin, redraw = time.After(*still), time.Tick(100*time.Millisecond)
					continue
				}
				t.begin()
				spinner, done = time.Tick(80*time.Millisecond), time.After(*think)
			}
		}
	}
}

func (t *tui) size() {
	rows, cols, err := pty.Getsize(os.Stdout)
	if err != nil || cols == 0 {
		rows, cols = 24, 80
	}
	t.cols, t.rows = cols, rows
}

// next leaves the splash or a dialog for what comes after it.
func (t *tui) next() {
	switch {
	case t.mode < modeTrust && *trust:
		t.mode = modeTrust
	case t.mode < modeLogin && *login:
		t.mode = modeLogin
	case *fail != "":
		t.mode = modeError
	default:
		t.mode = modeReady
		if *slow > 0 {
			t.drawSlowly()
			return
		}
	}
	t.draw()
}

// key handles one read of input; true starts a turn. Like the real CLIs,
// a read holding more than one key is a paste: text is inserted and Enter
// is not a submit.
func (t *tui) key(b []byte) bool {
	s := string(b)
	switch t.mode {
	case modeTrust:
		switch s {
		case "\x1b[A", "\x1bOA":
			t.selected = max(0, t.selected-1)
		case "\x1b[B", "\x1bOB":
			t.selected = min(1, t.selected+1)
		case "1", "2", "\r":
			if s != "\r" {
				t.selected = int(s[0] - '1')
			}
			if t.selected == 1 {
				os.Exit(1)
			}
			t.next()
			return false
		}
		t.draw()
	case modeLogin:
		if s == "\r" {
			t.next()
		}
	case modeReady:
		switch {
		case s == "\x03":
			out("\x1b[?1049l")
			os.Exit(0)
		case s == "\r":
			if t.input == "" {
				return false
			}
			t.sent, t.input = t.input, ""
			return true
		case strings.HasPrefix(s, "\x1b[200~"):
			s = strings.TrimPrefix(s, "\x1b[200~")
			s = strings.TrimSuffix(s, "\x1b[201~")
			t.input += strings.ReplaceAll(s, "\r", "\n")
		case s == "\x7f":
			if t.input != "" {
				t.input = t.input[:len(t.input)-1]
			}
		case strings.HasPrefix(s, "\x1b"):
			return false
		default:
			t.input += strings.ReplaceAll(s, "\r", "")
		}
		t.draw()
	}
	return false
}

// begin starts the turn of the message sent.
func (t *tui) begin() {
	first, _, _ := strings.Cut(t.sent, "\n")
	t.transcript = append(t.transcript, "> "+first)
	t.mode = modeThinking
	if *titled {
		out("\x1b]0;⠋ faketui\x07")
	}
	t.draw()
}

// reply ends a turn.
func (t *tui) reply() {
	last := strings.TrimPrefix(t.transcript[len(t.transcript)-1], "> ")
	t.replies++
	text := "● reply to: " + last
	if *number {
		text = fmt.Sprintf("● reply %d to: %s", t.replies, last)
	}
	if *titled {
		out("\x1b]0;faketui\x07")
	}
	t.mode = modeReady
	t.transcript = append(t.transcript, text)
	switch {
	case *stream > 0:
		words := strings.Fields(text)
		for n := 1; n <= len(words); n++ {
			t.revealed = n
			t.draw()
			time.Sleep(*stream)
		}
		t.revealed = -1
		t.draw()
	case *chunked:
		frame := t.frame()
		for i := 0; i < len(frame); i += 5 {
			out(frame[i:min(i+5, len(frame))])
			time.Sleep(time.Millisecond)
		}
	default:
		t.draw()
	}
}

func (t *tui) draw() { out(t.frame()) }

// drawSlowly draws the ready screen in pieces; what is typed meanwhile is
// lost, as with a TUI whose input handler isn't attached yet.
func (t *tui) drawSlowly() {
	frame := t.frame()
	rows := strings.SplitAfter(frame, "\r\n")
	for i, r := range rows {
		out(r)
		if i >= len(rows)-4 {
			time.Sleep(*slow)
		}
	}
	out("  tip: try asking for a poem")
	time.Sleep(*slow)
	for len(inputCh) > 0 {
		<-inputCh
	}
	t.draw()
}

func (t *tui) frame() string {
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	row := func(s string) { b.WriteString(s + "\r\n") }
	switch t.mode {
	case modeSplash:
		row("\x1b[1m*\x1b[0m Welcome to FakeTUI")
		row("  starting…")
	case modeTrust:
		row("Do you trust the files in this folder?")
		row("")
		for i, c := range []string{"Yes, proceed", "No, exit"} {
			mark := "  "
			if i == t.selected {
				mark = "❯ "
			}
			row(fmt.Sprintf("%s%d. %s", mark, i+1, c))
		}
	case modeLogin:
		row("Sign in to continue")
		row("Open https://login.example.com/device?code=ABCD-1234")
		row("Press Enter once you have signed in, or Esc to go back to the start")
	case modeError:
		row("Error: " + *fail)
	default:
		keep := max(0, t.rows-7)
		tr := t.transcript[max(0, len(t.transcript)-keep):]
		for i, l := range tr {
			if i == len(tr)-1 && t.revealed >= 0 {
				l = strings.Join(strings.Fields(l)[:t.revealed], " ")
			}
			row("\x1b[38;5;246m" + l + "\x1b[39m")
		}
		if t.queued != "" {
			row("  Queued (press ↑ to edit):")
			row("    " + t.queued)
		}
		row("")
		if t.mode == modeThinking {
			row(t.spinnerText())
		}
		rule := "\x1b[2m" + strings.Repeat("─", t.cols) + "\x1b[22m"
		b.WriteString(rule + "\r\n")
		in := t.input
		if n := strings.Count(in, "\n"); n > 0 {
			first, _, _ := strings.Cut(in, "\n")
			in = fmt.Sprintf("%s [+%d lines]", first, n)
		}
		row("❯ " + in)
		b.WriteString(rule + "\r\n")
		b.WriteString("  \x1b[2m? for shortcuts\x1b[22m")
	}
	return b.String()
}

func (t *tui) spinnerRow() int {
	return min(len(t.transcript), max(0, t.rows-7)) + 2
}

func (t *tui) spinnerText() string {
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧")
	return fmt.Sprintf("\x1b[38;5;174m%c\x1b[39m Thinking… (%ds · esc to interrupt)", frames[t.spin%len(frames)], t.spin/12)
}

func out(s string) { os.Stdout.WriteString(s) }

// termios gets (set nil) or sets the terminal attributes of fd; Linux
// only, like the tests.
func termios(fd uintptr, req uintptr, set *syscall.Termios) (syscall.Termios, error) {
	var t syscall.Termios
	arg := &t
	if set != nil {
		arg = set
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(arg))); errno != 0 {
		return t, errno
	}
	return t, nil
}
