package protocol

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"google.golang.org/grpc"

	"github.com/parallax/parallax/sdk/agent/protocol/internal/agentv1"
)

// Server serves a Handler over gRPC, HTTP or both. Serving one Server
// over both lets StreamOutput on either follow tasks executed on either.
type Server struct {
	h       Handler
	outputs *outputs
	mux     *http.ServeMux
}

// NewServer returns a Server for h.
func NewServer(h Handler) *Server {
	s := &Server{h: h, outputs: newOutputs()}
	s.mux = s.routes()
	return s
}

// RegisterGRPC adds the Agent service to g.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	agentv1.RegisterAgentServer(g, &grpcServer{s: s})
}

// RegisterGRPC adds the Agent service for h to g. It is short for
// NewServer(h).RegisterGRPC(g).
func RegisterGRPC(g *grpc.Server, h Handler) {
	NewServer(h).RegisterGRPC(g)
}

// HTTPHandler returns the protocol's HTTP routes for h. It is short for
// NewServer(h), which is an http.Handler itself.
func HTTPHandler(h Handler) http.Handler {
	return NewServer(h)
}

// execute runs t on the Handler. It is what both transports' Execute
// does.
func (s *Server) execute(ctx context.Context, t Task) (Result, error) {
	if err := t.validate(); err != nil {
		return Result{}, err
	}
	out, end, err := s.outputs.start(t.ID)
	if err != nil {
		return Result{}, err
	}
	defer end()

	taskCtx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		taskCtx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}

	type outcome struct {
		r   Result
		err error
	}
	// Buffered, so a Handler that returns after we stopped waiting
	// doesn't block forever.
	done := make(chan outcome, 1)
	go func() {
		r, err := s.h.Execute(taskCtx, t, out)
		done <- outcome{r, err}
	}()

	var o outcome
	select {
	case o = <-done:
	case <-taskCtx.Done():
		// Not waiting for a Handler that ignores its context is what
		// makes the timeout a promise; its late output is refused.
		select {
		case o = <-done:
		default:
			o.err = taskCtx.Err()
		}
	}

	if o.err != nil {
		// Whatever the Handler says, a task that ran out of time failed
		// because of it; the caller's own deadline is the caller's.
		if ctx.Err() == nil && taskCtx.Err() == context.DeadlineExceeded {
			return Result{}, fmt.Errorf("%w after %v", ErrTimeout, t.Timeout)
		}
		return Result{}, o.err
	}
	if o.r.TaskID == "" {
		o.r.TaskID = t.ID
	}
	// JSON has no NaN or infinities; refused on both transports alike.
	if math.IsNaN(o.r.Confidence) || math.IsInf(o.r.Confidence, 0) {
		return Result{}, fmt.Errorf("task %q: agent returned confidence %v, want a finite number", t.ID, o.r.Confidence)
	}
	return o.r, nil
}

// follow sends the output of task id to send, as StreamOutput does.
func (s *Server) follow(ctx context.Context, id string, send func([]byte) error) error {
	if id == "" {
		return fmt.Errorf("%w: task id is empty", ErrInvalid)
	}
	return s.outputs.follow(ctx, id, send)
}
