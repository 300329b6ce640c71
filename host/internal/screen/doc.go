// Package screen models the terminal screen of one agent: it feeds the
// agent's PTY output to a VT emulator and shows the visible rows as text.
package screen
