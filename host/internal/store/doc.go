// Package store keeps what must survive a host restart in one bbolt file,
// <data_dir>/parallax.db: agents' records, transcripts and terminal output,
// events and pattern executions.
//
// Writes are queued and committed in batches by one goroutine; only the
// callers that must know a write is on disk wait for it. A reader can take
// it a file at a time:
//   - store.go: Open, Close, the file's schema and why a file is refused;
//   - check.go: the walk of the file's pages before bbolt is trusted with it;
//   - queue.go: the queue of writes and the goroutine that commits them;
//   - agents.go, transcript.go, output.go, events.go, executions.go: the
//     records, one kind a file;
//   - sweep.go: removing what ended long ago.
package store
