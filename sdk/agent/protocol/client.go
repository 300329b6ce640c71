package protocol

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/parallax/parallax/sdk/agent/protocol/internal/agentv1"
)

// Client is an agent as a caller sees it, over either transport.
//
// Errors match ErrInvalid, ErrTimeout or ErrUnavailable with errors.Is
// when the agent reported one of those, or when it could not be reached
// (ErrUnavailable, with the endpoint in the text). A failed task's error
// is the agent's message. When ctx ends first, the error matches ctx's.
type Client interface {
	// Execute hands t to the agent and waits for its result.
	Execute(ctx context.Context, t Task) (Result, error)
	// Health asks the agent whether it can take tasks. An unhealthy agent
	// is a Health, not an error.
	Health(ctx context.Context) (Health, error)
	// StreamOutput calls fn with the output of task taskID as it comes,
	// as the package doc describes, and returns nil when the task ended.
	// fn must not keep the slice.
	StreamOutput(ctx context.Context, taskID string, fn func(chunk []byte)) error
	// Close releases the connection.
	Close() error
}

// Dial returns a Client for the agent at endpoint:
//
//	grpc://host:port    gRPC without TLS
//	grpcs://host:port   gRPC with TLS, verified against the system's roots
//	grpc://host:port/name  one of the agents a server hosts (see Target)
//	http://host[:port][/prefix], https://...   HTTP
//
// It doesn't connect: an agent that can't be reached makes the first call
// fail with ErrUnavailable.
func Dial(endpoint string) (Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("agent endpoint: %w", err)
	}
	switch u.Scheme {
	case "grpc", "grpcs":
		target := strings.Trim(u.Path, "/")
		if u.Port() == "" || u.Hostname() == "" || strings.Contains(target, "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("agent endpoint %q: want %s://host:port or %s://host:port/name", endpoint, u.Scheme, u.Scheme)
		}
		creds := insecure.NewCredentials()
		if u.Scheme == "grpcs" {
			creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
		}
		opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, headerOptions()...)
		if target != "" {
			opts = append(opts, withTarget(target)...)
		}
		conn, err := grpc.NewClient("dns:///"+u.Host, opts...)
		if err != nil {
			return nil, fmt.Errorf("agent endpoint %q: %w", endpoint, err)
		}
		return &grpcClient{endpoint: endpoint, conn: conn, rpc: agentv1.NewAgentClient(conn)}, nil
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("agent endpoint %q: no host", endpoint)
		}
		return newHTTPClient(endpoint, u), nil
	}
	return nil, fmt.Errorf("agent endpoint %q: scheme must be grpc, grpcs, http or https", endpoint)
}

// targetKey is the gRPC metadata that names which of a server's agents a
// call is for.
const targetKey = "parallax-agent-target"

// withTarget sends name with every call.
func withTarget(name string) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, targetKey, name), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(metadata.AppendToOutgoingContext(ctx, targetKey, name), desc, cc, method, opts...)
		}),
	}
}

type targetCtxKey struct{}

// WithTarget marks ctx as a call for the agent name, for a server that
// routes HTTP by path itself.
func WithTarget(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, targetCtxKey{}, name)
}

// Target says which of a server's agents a call is for: the name of a
// grpc://host:port/name endpoint, or what WithTarget set; "" for none. A
// Handler that hosts several agents routes by it.
func Target(ctx context.Context) string {
	if name, ok := ctx.Value(targetCtxKey{}).(string); ok {
		return name
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(targetKey); len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
