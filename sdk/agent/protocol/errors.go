package protocol

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors a Handler may return, wrapped with detail, and a Client returns.
// They survive either transport, so a caller can tell a bad task from a
// slow one from an agent that can't be reached.
var (
	// ErrInvalid: the task, or the request carrying it, can't be accepted
	// as given. Sending it again won't help.
	ErrInvalid = errors.New("invalid task")
	// ErrTimeout: the task's Timeout passed before the agent finished.
	// Errors matching it also match context.DeadlineExceeded, so one check
	// catches both the task's timeout and the caller's own deadline.
	ErrTimeout error = timeoutError{}
	// ErrUnavailable: the agent can't be reached, or can't take tasks now.
	// Trying again later, or another agent, may help.
	ErrUnavailable = errors.New("agent unavailable")
)

type timeoutError struct{}

func (timeoutError) Error() string        { return "task timed out" }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// kinds pairs each sentinel with what it travels as. Any other error is a
// failed task: codes.Unknown or status 500, with the error's text.
var kinds = []struct {
	err    error
	code   codes.Code
	status int
}{
	{ErrInvalid, codes.InvalidArgument, http.StatusBadRequest},
	{ErrTimeout, codes.DeadlineExceeded, http.StatusGatewayTimeout},
	{ErrUnavailable, codes.Unavailable, http.StatusServiceUnavailable},
}

// kindOf is the sentinel err wraps, or nil for a failed task.
func kindOf(err error) error {
	for _, k := range kinds {
		// A handler's own context.DeadlineExceeded is not ErrTimeout:
		// the match goes only from ErrTimeout to it, not back.
		if errors.Is(err, k.err) {
			return k.err
		}
	}
	return nil
}

// toStatus turns a Server's error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	kind := kindOf(err)
	for _, k := range kinds {
		if k.err == kind {
			code = k.code
		}
	}
	return status.Error(code, err.Error())
}

// httpStatus is the status a Server's error travels as.
func httpStatus(err error) int {
	kind := kindOf(err)
	for _, k := range kinds {
		if k.err == kind {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// remoteError is an error an agent reported, as a Client returns it: the
// agent's text, matching its sentinel (or the caller's context error) with
// errors.Is.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// unavailable is the error for an agent at endpoint that can't be reached
// or refused the task as unavailable; it names the endpoint, since a
// caller juggling agents needs to know which one.
func unavailable(endpoint, msg string) error {
	return &remoteError{msg: endpoint + ": " + msg, kind: ErrUnavailable}
}

// fromStatus turns the error of a gRPC call made with ctx to the agent at
// endpoint back into the agent's error.
func fromStatus(ctx context.Context, endpoint string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			// The caller gave up; whatever the agent was doing is moot.
			return &remoteError{msg: st.Message(), kind: ctx.Err()}
		}
		if st.Code() == codes.Canceled {
			// Nobody cancelled the call, so the connection closed under it.
			return unavailable(endpoint, st.Message())
		}
	case codes.Unavailable:
		return unavailable(endpoint, st.Message())
	}
	for _, k := range kinds {
		if st.Code() == k.code {
			return &remoteError{msg: st.Message(), kind: k.err}
		}
	}
	return &remoteError{msg: st.Message()}
}
