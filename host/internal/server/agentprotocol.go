package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/agentserver"
	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/sdk/agent/protocol"
)

// agentProtocol serves the Agent protocol for the managed agents of am.
func agentProtocol(am *agents.Manager) *protocol.Server {
	return protocol.NewServer(agentserver.Handler{
		Get: am.Get,
		Send: func(ctx context.Context, id, text string, timeout time.Duration) (string, error) {
			msg, err := am.Send(ctx, id, text, true, timeout)
			return msg.Content, err
		},
	})
}

// serveAgentGRPC serves the protocol's gRPC form on addr until stop.
func serveAgentGRPC(addr string, srv *protocol.Server, log hclog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server.agent_listen: %w (pick another port, or stop what holds it)", err)
	}
	g := grpc.NewServer()
	srv.RegisterGRPC(g)
	go func() { _ = g.Serve(ln) }()
	log.Info("serving the Agent protocol for managed agents", "addr", ln.Addr().String())
	return g.GracefulStop, nil
}

// monitorAgents health-checks the registered agents over the Agent
// protocol and announces changes on the bus.
func monitorAgents(ctx context.Context, every time.Duration, cat *catalog.Catalog, bus *events.Bus, log hclog.Logger) {
	check := func(ctx context.Context, a catalog.Agent) error {
		c, err := protocol.Dial(a.Endpoint)
		if err != nil {
			return err
		}
		defer c.Close()
		h, err := c.Health(ctx)
		if err != nil {
			return err
		}
		if !h.Healthy {
			return fmt.Errorf("unhealthy: %s", h.Message)
		}
		return nil
	}
	changed := func(a catalog.Agent, err error) {
		data := events.AgentHealthData{ID: a.ID, Healthy: a.Healthy, Source: string(a.Source)}
		if err != nil {
			data.Error = err.Error()
			log.Warn("registered agent unhealthy", "id", a.ID, "error", err)
		} else {
			log.Info("registered agent healthy again", "id", a.ID)
		}
		bus.Publish(events.New(a.ID, data))
	}
	go cat.Monitor(ctx, every, min(every, 5*time.Second), check, changed)
}

// patternAgents lets patterns spawn, message and delete managed agents.
type patternAgents struct{ *agents.Manager }

func (p patternAgents) Send(ctx context.Context, id, text string, expectResponse bool, timeout time.Duration) (string, error) {
	msg, err := p.Manager.Send(ctx, id, text, expectResponse, timeout)
	return msg.Content, err
}
