// Package runtimes runs the runtime plugins: it starts and configures them,
// or reattaches to the ones an earlier host process left running, watches
// their health, restarts the ones that die and orders them for picking a
// runtime for a new agent.
package runtimes
