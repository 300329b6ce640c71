// Package registry is how agents that run outside parallax announce
// themselves in etcd, and how the host finds them.
//
// An agent calls Register: its Entry is written as JSON under
// Key(prefix, id), attached to a lease that the registration keeps alive.
// An agent that dies stops renewing the lease and its key disappears when
// the lease expires; one that stops gracefully calls Close, which revokes
// the lease and removes the key at once.
//
// The host calls Watch on the same prefix and receives an EventPut for
// every valid entry and an EventDelete for every entry that went away. Both
// sides use this package, so the format is defined in one place.
package registry
