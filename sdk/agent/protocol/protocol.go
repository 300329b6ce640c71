package protocol

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// Task is a piece of work handed to an agent.
type Task struct {
	// ID names the task so its output can be followed; it may be empty if
	// nobody will. Two tasks with the same id can't run at once on one
	// Server.
	ID string
	// Description says what to do. Required.
	Description string
	// Data is the task's input, in whatever form the agent expects.
	Data []byte
	// Timeout bounds how long the agent works on the task; the Server
	// cuts the Handler off when it passes. 0 means no limit beyond the
	// caller's context. It travels in whole milliseconds, rounded up.
	Timeout time.Duration
}

// Result is what an agent made of a task.
type Result struct {
	// TaskID is the task's id; a Server fills it in if the Handler
	// leaves it empty.
	TaskID     string
	Result     []byte
	Confidence float64 // by convention from 0 to 1
	Reasoning  string
}

// Health is whether an agent can take tasks, and why not.
type Health struct {
	Healthy bool
	Message string
}

// Handler is an agent, as a Server serves it. Its methods may be called
// concurrently, for different tasks.
type Handler interface {
	// Execute does t. What it writes to out goes to whoever follows the
	// task with StreamOutput; writes after Execute returned fail. ctx ends
	// when t.Timeout passes or the caller gives up, and the Server stops
	// waiting for Execute then. Errors wrapping ErrInvalid or
	// ErrUnavailable keep that meaning for the caller; any other error's
	// text reaches the caller as the task's failure.
	Execute(ctx context.Context, t Task, out io.Writer) (Result, error)
	// Health reports whether the agent can take tasks.
	Health(ctx context.Context) Health
}

// validate checks a task as a Server receives it.
func (t Task) validate() error {
	if t.Description == "" {
		return fmt.Errorf("%w: description is empty", ErrInvalid)
	}
	if t.Timeout < 0 {
		return fmt.Errorf("%w: timeout %v is negative", ErrInvalid, t.Timeout)
	}
	return nil
}

// toMillis turns a timeout into the protocol's milliseconds. It rounds
// away from zero so that a tiny timeout doesn't become "no timeout" and a
// negative one stays invalid.
func toMillis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	switch rest := d % time.Millisecond; {
	case rest > 0:
		ms++
	case rest < 0:
		ms--
	}
	return ms
}

// fromMillis turns the protocol's milliseconds into a timeout, saturating
// where a Duration overflows.
func fromMillis(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}
