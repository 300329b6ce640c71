// Package server wires the configuration, the runtimes, the agents and the
// API into one running host, and shuts them down in order.
package server
