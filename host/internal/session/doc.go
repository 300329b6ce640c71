// Package session drives one managed agent through its terminal: it reads
// the agent's screen to know whether it is starting, ready, busy, asking
// something or failing, and sends it messages and keys the way a person at
// the keyboard would.
//
// A session is runtime-agnostic. The agents manager feeds it the agent's
// output (Feed) and gives it the runtime's input stream (Options.Input).
//
// Detection runs only when output arrived, at most once per
// Options.Throttle while output streams, plus once when the screen has been
// quiet for Options.Settle. An idle agent costs no CPU and holds no timer.
//
// A state counts only once the screen has settled: a TUI still draws for a
// moment after its prompt first shows, and input sent then is lost. Busy
// counts at once; a spinner never settles.
package session
