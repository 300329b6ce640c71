package plugin

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parallax/parallax/sdk/runtime"
)

// codeOf pairs each runtime sentinel error with the status code it travels
// as.
var codeOf = []struct {
	err  error
	code codes.Code
}{
	{runtime.ErrNotFound, codes.NotFound},
	{runtime.ErrAlreadyExists, codes.AlreadyExists},
	{runtime.ErrInvalidSpec, codes.InvalidArgument},
	{runtime.ErrUnsupported, codes.Unimplemented},
	{runtime.ErrNotConfigured, codes.FailedPrecondition},
}

// toStatus turns a runtime's error into a gRPC status error, keeping its
// text.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	// Anything else is Unknown, even a status or context error the runtime
	// got from its own backend: the client's Unavailable and Canceled must
	// only ever mean the plugin is gone or the host cancelled the call.
	code := codes.Unknown
	for _, m := range codeOf {
		if errors.Is(err, m.err) {
			code = m.code
			break
		}
	}
	return status.Error(code, err.Error())
}

// errUnavailable marks errors that mean the plugin can't be reached.
var errUnavailable = errors.New("runtime plugin unavailable")

// rpcError is an error that came back over gRPC. It keeps the server's
// text, matches its runtime sentinel with errors.Is, and still carries the
// status for status.Code.
type rpcError struct {
	st   *status.Status
	kind error // a runtime sentinel, errUnavailable, a context error, or nil
}

func (e *rpcError) Error() string {
	if e.kind == errUnavailable {
		return errUnavailable.Error() + ": " + e.st.Message()
	}
	return e.st.Message()
}

func (e *rpcError) Unwrap() error              { return e.kind }
func (e *rpcError) GRPCStatus() *status.Status { return e.st }

// fromStatus turns an error from a gRPC call made with ctx back into the
// runtime's error.
func fromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &rpcError{st: st}
	for _, m := range codeOf {
		if st.Code() == m.code {
			e.kind = m.err
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		e.kind = errUnavailable
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			e.kind = ctx.Err()
		} else if st.Code() == codes.Canceled {
			// Nobody cancelled the call, so the connection was closed
			// under it: the plugin was killed or the client shut down.
			e.kind = errUnavailable
		}
	}
	return e
}

// IsUnavailable reports whether err means the plugin could not be reached:
// its process died, was killed, or the connection to it broke. Errors the
// runtime itself returned are never unavailable.
func IsUnavailable(err error) bool {
	return errors.Is(err, errUnavailable) || status.Code(err) == codes.Unavailable
}
