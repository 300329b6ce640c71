package runtime

import "errors"

// Errors a runtime returns, wrapped with detail (fmt.Errorf("%w: ...")).
// They survive the trip over gRPC as status codes, so the host can tell a
// missing agent from a broken runtime.
var (
	// ErrNotFound: the runtime doesn't know the agent id.
	ErrNotFound = errors.New("agent not found")
	// ErrAlreadyExists: Start was given an id the runtime already holds.
	ErrAlreadyExists = errors.New("agent already exists")
	// ErrInvalidSpec: Start or Configure was given something unusable.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnsupported: the runtime doesn't have this optional feature.
	ErrUnsupported = errors.New("not supported by this runtime")
	// ErrNotConfigured: a call came before Configure.
	ErrNotConfigured = errors.New("runtime not configured")
)
