// Package local is the "local" parallax runtime: it runs each agent as a
// process on a pseudo-terminal on the plugin's own machine, tracks every
// process the agent starts (with a cgroup where it can) so that Stop leaves
// nothing behind, and enforces CPU and memory limits with cgroups where
// they are writable.
//
// The files follow the layout every parallax runtime shares: runtime.go
// (runtime.Runtime), agent.go (one running agent), state.go (the records
// and Recover), stats.go and config.go (the config {} block); and,
// specific to this runtime, cgroup.go and reaper.go.
package local
