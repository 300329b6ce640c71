// Package client talks to a running parallax host over its REST API and
// WebSockets: a small typed client, used by the parallax-host CLI.
package client
