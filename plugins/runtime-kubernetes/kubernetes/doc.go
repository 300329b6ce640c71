// Package kubernetes is a parallax runtime that runs each agent as a pod,
// attached through the API server.
//
// The files follow the layout every parallax runtime shares: runtime.go
// (runtime.Runtime), agent.go (one running agent), state.go (labels and
// Recover), stats.go and config.go (the config {} block); and, specific
// to this runtime, pod.go (the agent's pod and secret) and status.go
// (what a pod says about its agent).
package kubernetes
