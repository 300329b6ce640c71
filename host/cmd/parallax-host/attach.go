package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/parallax/parallax/host/internal/client"
)

// detachKey is Ctrl-]: typed while attached, it detaches, as in telnet.
const detachKey = 0x1d

func cmdAttach(args []string, std stdio) int {
	c := newClientCmd(std, "agents attach", "ID [flags]",
		`Connects your terminal to the agent's, as "docker attach" does: what you
type goes to the agent, keys such as Ctrl-C included, and you see its
screen. Press Ctrl-] to detach; the agent keeps running.

When standard input is not a terminal, attach copies it to the agent as it
is and prints the output until the agent exits or you press Ctrl-C; a
Ctrl-] byte in the input detaches.

Example:
  parallax-host agents attach 3fa2c0de91b4e5f6
`)
	pos, ok := c.parse(args, 1, 1)
	if !ok {
		return c.code
	}
	id := pos[0]
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	// In raw mode the keyboard sends no signals; these come from kill or
	// a closed terminal, and detach.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	t, err := cl.Terminal(ctx, id)
	if err != nil {
		return c.fail(err)
	}
	defer t.Close()

	exited, err := attach(ctx, t, std)
	switch {
	case err != nil:
		return c.fail(err)
	case exited:
		fmt.Fprintf(std.stderr, "agent %s exited%s\n", id, exitSummary(cl, id))
	default:
		fmt.Fprintf(std.stderr, "detached from %s (the agent keeps running)\n", id)
	}
	return 0
}

// attach joins std to terminal t until the user detaches (Ctrl-], or a
// signal ends ctx) or the agent exits, which exited reports. A terminal on
// stdin is put in raw mode, sized to match, and restored before attach
// returns, on every path.
func attach(ctx context.Context, t *client.Terminal, std stdio) (exited bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if f, ok := std.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return false, fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		defer func() {
			_ = term.Restore(fd, old)
			// The cursor is wherever the agent left it.
			fmt.Fprint(std.stderr, "\r\n")
		}()
		followSize(ctx, t, fd)
	}

	ended := make(chan error, 2)
	detached := make(chan struct{})
	go func() {
		if copyInput(ctx, t, std.stdin) {
			close(detached)
		}
	}()
	go func() {
		for {
			b, err := t.Read(ctx)
			if err != nil {
				ended <- err
				return
			}
			if _, err := std.stdout.Write(b); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-detached:
		return false, nil
	case <-ctx.Done():
		return false, nil
	case err := <-ended:
		switch {
		case errors.Is(err, io.EOF):
			return true, nil
		case ctx.Err() != nil:
			return false, nil
		}
		return false, err
	}
}

// followSize sets t's size to the terminal fd's now and whenever it
// changes, until ctx ends.
func followSize(ctx context.Context, t *client.Terminal, fd int) {
	resize := func() {
		if cols, rows, err := term.GetSize(fd); err == nil && cols > 0 && rows > 0 {
			_ = t.Resize(ctx, cols, rows)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				resize()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// copyInput types what r gives into t until the detach key, which it
// reports, or the end of r or of ctx.
func copyInput(ctx context.Context, t *client.Terminal, r io.Reader) (detach bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p := buf[:n]
			i := bytes.IndexByte(p, detachKey)
			if i >= 0 {
				p = p[:i]
			}
			if len(p) > 0 && t.Write(ctx, p) != nil {
				return false // the output side reports why
			}
			if i >= 0 {
				return true
			}
		}
		if err != nil {
			// At the end of piped input the output goes on.
			return false
		}
	}
}

// exitSummary says how agent id exited, if the host can tell at once.
func exitSummary(cl *client.Client, id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := cl.Get(ctx, id)
	if err != nil || a.Exit == nil {
		return ""
	}
	s := fmt.Sprintf(" (code %d", a.Exit.Code)
	if a.Exit.Signal != "" {
		s += ", signal " + a.Exit.Signal
	}
	return s + ")"
}
