package plugin

// Both ends of the Attach stream. The client opens it with the agent id,
// the server answers "opened", then input and resize frames flow one way
// and output the other. The server ends the stream when the output ends;
// the client half-closing it detaches.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// Resizable is implemented by the connection Client.Attach returns. Resize
// sends the new size on the attach stream, in order with the input. The
// plugin applies it to the agent with the runtime's Resizer; a failure
// there is only logged by the plugin, so use Client.Resize when the result
// matters.
type Resizable interface {
	Resize(size runtime.Size) error
}

// outputChunk is one read from the runtime's connection.
type outputChunk struct {
	data []byte
	err  error
}

// serveAttach runs one Attach stream in the plugin. Only this function
// calls stream.Send, and it returns without waiting for a runtime
// connection that doesn't unblock on Close, so neither a slow host reader
// nor a stuck runtime holds up anything beyond this stream.
func serveAttach(s *server, stream runtimev1.Runtime_AttachServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetOpen() == nil {
		return status.Error(codes.InvalidArgument, "attach: the first frame must be open")
	}
	id := first.GetOpen().GetId()

	conn, err := s.impl.Attach(ctx, id)
	if err != nil {
		return toStatus(err)
	}
	defer conn.Close()
	opened := &runtimev1.AttachResponse{Frame: &runtimev1.AttachResponse_Opened{Opened: &runtimev1.AttachOpened{}}}
	if err := stream.Send(opened); err != nil {
		return err
	}

	output := make(chan outputChunk)
	go readOutput(ctx, conn, output)
	inputDone := make(chan error, 1)
	go func() { inputDone <- s.copyInput(ctx, stream, conn, id) }()

	for {
		select {
		case chunk := <-output:
			if chunk.err == io.EOF {
				return nil
			}
			if chunk.err != nil {
				return toStatus(chunk.err)
			}
			data := &runtimev1.AttachResponse{Frame: &runtimev1.AttachResponse_Data{Data: chunk.data}}
			if err := stream.Send(data); err != nil {
				return err
			}
		case err := <-inputDone:
			return err
		}
	}
}

// readOutput sends each read from conn as soon as it arrives, ending with
// the read's error.
func readOutput(ctx context.Context, conn io.Reader, output chan<- outputChunk) {
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			chunk := outputChunk{data: append([]byte(nil), buf[:n]...)}
			select {
			case output <- chunk:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			select {
			case output <- outputChunk{err: err}:
			case <-ctx.Done():
			}
			return
		}
	}
}

// copyInput writes the host's input frames to conn and applies resize
// frames. It returns nil when the host detaches.
func (s *server) copyInput(ctx context.Context, stream runtimev1.Runtime_AttachServer, conn io.Writer, id string) error {
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch frame := msg.GetFrame().(type) {
		case *runtimev1.AttachRequest_Data:
			// The output decides when the stream ends: a failed write
			// usually means the agent exited, and its last output must
			// still reach the host.
			if _, err := conn.Write(frame.Data); err != nil {
				s.logger.Warn("attach: writing input failed", "id", id, "error", err)
			}
		case *runtimev1.AttachRequest_Resize:
			if err := s.resize(ctx, id, sizeFromProto(frame.Resize)); err != nil {
				s.logger.Warn("attach: resize failed", "id", id, "error", err)
			}
		default:
			return status.Error(codes.InvalidArgument, "attach: unexpected frame after open")
		}
	}
}

// detachGrace bounds how long a closed attachConn waits for the plugin to
// end the stream before cancelling it.
const detachGrace = 2 * time.Second

// attachConn is the host's end of an Attach stream.
type attachConn struct {
	stream runtimev1.Runtime_AttachClient
	cancel context.CancelFunc
	closed atomic.Bool

	readMu  sync.Mutex
	pending []byte // received but not yet read
	readErr error  // once set, every Read returns it

	sendMu sync.Mutex // gRPC allows one sender at a time
}

func openAttach(ctx context.Context, rpc runtimev1.RuntimeClient, id string) (io.ReadWriteCloser, error) {
	// The stream outlives ctx: it ends when the conn is closed.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	fail := func(err error) (io.ReadWriteCloser, error) {
		stop()
		cancel()
		return nil, fromStatus(ctx, err)
	}

	stream, err := rpc.Attach(streamCtx)
	if err != nil {
		return fail(err)
	}
	open := &runtimev1.AttachRequest{Frame: &runtimev1.AttachRequest_Open{Open: &runtimev1.AttachOpen{Id: id}}}
	// On io.EOF the stream has ended and Recv below returns why.
	if err := stream.Send(open); err != nil && err != io.EOF {
		return fail(err)
	}
	resp, err := stream.Recv()
	if err == io.EOF {
		err = status.Error(codes.Internal, "attach: plugin ended the stream before opening it")
	}
	if err != nil {
		return fail(err)
	}
	if !stop() {
		return fail(ctx.Err())
	}
	if resp.GetOpened() == nil {
		return fail(status.Error(codes.Internal, "attach: plugin sent output before opened"))
	}
	return &attachConn{stream: stream, cancel: cancel}, nil
}

func (a *attachConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	a.readMu.Lock()
	defer a.readMu.Unlock()
	for len(a.pending) == 0 {
		if a.closed.Load() {
			return 0, net.ErrClosed
		}
		if a.readErr != nil {
			return 0, a.readErr
		}
		msg, err := a.stream.Recv()
		if err != nil {
			a.readErr = a.streamEnded(err)
			continue
		}
		a.pending = msg.GetData()
	}
	n := copy(p, a.pending)
	a.pending = a.pending[n:]
	return n, nil
}

// streamEnded turns the error that ended the stream into Read's error.
func (a *attachConn) streamEnded(err error) error {
	// The stream is over; cancelling releases it at once.
	a.cancel()
	if err == io.EOF {
		return io.EOF
	}
	// Never cancelled by a caller's context, so Canceled here means the
	// connection went away.
	return fromStatus(context.Background(), err)
}

func (a *attachConn) Write(p []byte) (int, error) {
	if err := a.send(&runtimev1.AttachRequest{Frame: &runtimev1.AttachRequest_Data{Data: p}}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Resize implements Resizable.
func (a *attachConn) Resize(size runtime.Size) error {
	return a.send(&runtimev1.AttachRequest{Frame: &runtimev1.AttachRequest_Resize{Resize: sizeToProto(size)}})
}

func (a *attachConn) send(msg *runtimev1.AttachRequest) error {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	if a.closed.Load() {
		return net.ErrClosed
	}
	err := a.stream.Send(msg)
	if errors.Is(err, io.EOF) {
		// The plugin ended the stream; Read reports how.
		return fmt.Errorf("attach: %w", io.ErrClosedPipe)
	}
	if err != nil {
		return fromStatus(context.Background(), err)
	}
	return nil
}

// Close detaches. Input already written is delivered first; the stream is
// cancelled at the latest detachGrace later, so Close never blocks long.
func (a *attachConn) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	time.AfterFunc(detachGrace, a.cancel)
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	_ = a.stream.CloseSend()
	return nil
}
