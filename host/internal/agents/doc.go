// Package agents keeps the managed agents: it spawns them on a runtime,
// drains and keeps their output, follows their state and stops them, and
// keeps a warm pool of ready ones (pool.go).
package agents
