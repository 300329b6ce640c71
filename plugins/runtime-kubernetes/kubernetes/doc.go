// Package kubernetes is a parallax runtime that runs each agent as a pod,
// attached through the API server.
package kubernetes
