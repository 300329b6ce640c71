// Package screen models the terminal screen of one agent: a small VT
// emulator of its own (term.go) draws the agent's PTY output into a grid of
// cells, and Screen shows the visible rows as text.
package screen
