// Command fakeplugin is a runtime plugin for the tests of package plugin:
// it only describes itself, logging and printing as it does, and says when
// it is closed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	// Before Serve makes os.Stdout a pipe of go-plugin's: this is the pipe
	// to the host.
	stdout := os.Stdout
	plugin.Serve(func(logger hclog.Logger) runtime.Runtime {
		return &fake{logger: logger, stdout: stdout}
	})
}

type fake struct {
	logger hclog.Logger
	stdout *os.File
}

func (f *fake) Describe(context.Context) (runtime.Info, error) {
	f.logger.Info("describing", "marker", os.Getenv("FAKEPLUGIN_MARKER"))
	// Stray stdout after the handshake must not reach the host's stdout.
	fmt.Println("stdout", os.Getenv("FAKEPLUGIN_MARKER"))
	if os.Getenv("FAKEPLUGIN_WRITE_FD1") != "" {
		// Once the host is gone, this writes to a broken pipe on fd 1,
		// which must fail and not kill the plugin.
		_, err := fmt.Fprintln(f.stdout, "fd1")
		f.logger.Info("wrote to fd 1", "error", err)
	}
	return runtime.Info{Name: "fakeplugin", Version: "0.0.1"}, nil
}

func (f *fake) Configure(context.Context, runtime.ConfigureRequest) error { return nil }

func (f *fake) Health(context.Context) (runtime.Health, error) {
	return runtime.Health{Healthy: true}, nil
}

func (f *fake) Start(context.Context, runtime.Spec) (runtime.AgentInfo, error) {
	return runtime.AgentInfo{}, runtime.ErrUnsupported
}

func (f *fake) Attach(_ context.Context, id string) (io.ReadWriteCloser, error) {
	return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
}

func (f *fake) Stop(_ context.Context, id string, _ runtime.StopOptions) error {
	return fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
}

func (f *fake) Wait(_ context.Context, id string) (runtime.ExitStatus, error) {
	return runtime.ExitStatus{}, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
}

func (f *fake) Inspect(_ context.Context, id string) (runtime.AgentInfo, error) {
	return runtime.AgentInfo{}, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
}

func (f *fake) List(context.Context) ([]runtime.AgentInfo, error) { return nil, nil }

// Close writes "closed" to the file FAKEPLUGIN_CLOSED names, for the test
// that the sdk calls it on a clean exit.
func (f *fake) Close(context.Context) error {
	if p := os.Getenv("FAKEPLUGIN_CLOSED"); p != "" {
		return os.WriteFile(p, []byte("closed"), 0o600)
	}
	return nil
}
