// Package agents keeps the managed agents: it spawns them on a runtime,
// drains and keeps their output, follows their state and stops them, and
// keeps a warm pool of ready ones.
//
// A reader can take it a file at a time:
//   - manager.go: the Manager and its table of agents;
//   - agent.go: one agent and its view;
//   - request.go, policy.go, limits.go: what a spawn request may ask;
//   - spawn.go: a spawn, top-down, from the request to a running session;
//   - lifecycle.go: the agent's process ending, being lost, or stopped;
//   - adopt.go: agents a runtime kept across a host restart;
//   - dirs.go: each agent's directory (home, scratch workdir);
//   - drive.go: messages, answers and credentials;
//   - terminal.go, ring.go: the terminal's output and its watchers;
//   - logs.go, metrics.go: what the API shows of output and resource use;
//   - pool.go: the warm pool.
package agents
