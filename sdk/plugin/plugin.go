// Package plugin runs a runtime.Runtime as a hashicorp/go-plugin gRPC
// plugin and connects to one from the host.
//
// A plugin's main is a call to Serve. The host starts the plugin with
// Launch and gets a *Client, which implements runtime.Runtime and the
// optional interfaces over the wire. Tests of a runtime use TestClient to
// drive it through a real gRPC connection without building a binary.
package plugin

import (
	"context"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// Handshake is shared by host and plugins. A binary that doesn't carry the
// magic cookie refuses to run as a plugin, and a plugin built for another
// protocol version is refused by the host.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  runtime.ProtocolVersion,
	MagicCookieKey:   "PARALLAX_RUNTIME_PLUGIN",
	MagicCookieValue: "5c1b0f3e8a9d4e27b6f0c2d41a7e9b38",
}

// PluginName is the name the runtime is dispensed under.
const PluginName = "runtime"

// grpcPlugin is the go-plugin glue: on the plugin side it registers the
// gRPC server for impl, on the host side it builds the client.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl    runtime.Runtime
	logger  hclog.Logger
	secrets *secretMask // nil where the logger isn't Serve's own
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	runtimev1.RegisterRuntimeServer(s, newServer(p.impl, p.logger, p.secrets))
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &Client{rpc: runtimev1.NewRuntimeClient(conn)}, nil
}

func pluginSet(impl runtime.Runtime, logger hclog.Logger, secrets *secretMask) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &grpcPlugin{impl: impl, logger: logger, secrets: secrets}}
}
