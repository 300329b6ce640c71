package protocol

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

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
		if u.Port() == "" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("agent endpoint %q: want %s://host:port", endpoint, u.Scheme)
		}
		creds := insecure.NewCredentials()
		if u.Scheme == "grpcs" {
			creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
		}
		conn, err := grpc.NewClient("dns:///"+u.Host, grpc.WithTransportCredentials(creds))
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
