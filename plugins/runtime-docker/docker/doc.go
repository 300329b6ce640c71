// Package docker is the "docker" parallax runtime: it runs each agent in
// its own container on a Docker engine, with a TTY, limits enforced by the
// engine, and labels that let a restarted plugin find and adopt the
// containers it started, and never touch anyone else's.
//
// The files follow the layout every parallax runtime shares: runtime.go
// (runtime.Runtime), agent.go (one running agent), state.go (labels and
// Recover), stats.go and config.go (the config {} block); and, specific to
// this runtime, image.go (which image, and pulling it) and home.go (the
// agent's home, copied into its container).
package docker
