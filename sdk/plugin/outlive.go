package plugin

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"
)

// logFileEnv tells a plugin launched WithOutliveHost where to log.
const logFileEnv = "PARALLAX_PLUGIN_LOG"

// outliveHost prepares a plugin process to run on once the host that
// launched it is gone, and returns the log file at path.
//
// The host reads the plugin's stdout and stderr pipes; with the host gone,
// a write to them fails. On fd 1 and 2 it would also end the process with
// SIGPIPE, unless the process asks for SIGPIPE (os/signal, "SIGPIPE"): then
// it fails with EPIPE only. Notify, not Ignore: an ignored SIGPIPE would be
// inherited by the agents the runtime starts.
//
// fd 2 becomes the log file, so that what the Go runtime, grpc or a C
// library print there (crash reports included) is kept in the log and not
// written to a dead pipe.
func outliveHost(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if err := dupTo(f, 2); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log file as stderr: %w", err)
	}
	return f, nil
}

// stdioToFile points os.Stdout and os.Stderr at f on the first call the
// plugin serves. go-plugin has made them pipes by then, which it streams to
// a connected host and which nobody drains while none is: a plugin writing
// to them with the host gone would block once the pipe is full. Calls are
// served only after go-plugin set them, so this comes after it.
func stdioToFile(f *os.File) []grpc.ServerOption {
	var once sync.Once
	swap := func() { once.Do(func() { os.Stdout, os.Stderr = f, f }) }
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			swap()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			swap()
			return h(srv, ss)
		}),
	}
}
