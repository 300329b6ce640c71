package plugin

import (
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/parallax/parallax/sdk/runtime"
)

// TestClient serves r in this process and returns a Client connected to
// it over a real gRPC connection on a unix socket, the same wire path a
// launched plugin uses. It is for tests, such as a runtime's conformance
// test; the connection is closed when the test ends. Kill closes it early,
// which makes later calls fail as if the plugin had died.
func TestClient(t testing.TB, r runtime.Runtime) *Client {
	t.Helper()
	// Not t.Log: the server may still log after the test ended.
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn})
	grpcClient, _ := goplugin.TestPluginGRPCConn(t, false, pluginSet(r, logger, nil))
	raw, err := grpcClient.Dispense(PluginName)
	if err != nil {
		t.Fatalf("dispense runtime plugin: %v", err)
	}
	client := raw.(*Client)
	// Closing the client also shuts the server down.
	proc := &inProcess{close: func() { _ = grpcClient.Close() }}
	client.proc = proc
	t.Cleanup(proc.kill)
	return client
}

// inProcess is a plugin served by TestClient.
type inProcess struct {
	close  func()
	closed atomic.Bool
}

func (p *inProcess) kill() {
	if !p.closed.Swap(true) {
		p.close()
	}
}

func (p *inProcess) exited() bool                   { return p.closed.Load() }
func (p *inProcess) pid() int                       { return 0 }
func (p *inProcess) reattachConfig() ReattachConfig { return ReattachConfig{} }
func (p *inProcess) detach()                        { p.kill() }
