package protocol

import (
	"context"

	"github.com/parallax/parallax/sdk/agent/protocol/internal/agentv1"
)

// grpcServer is the Agent service of a Server.
type grpcServer struct {
	agentv1.UnimplementedAgentServer
	s *Server
}

func (g *grpcServer) ExecuteTask(ctx context.Context, req *agentv1.TaskRequest) (*agentv1.TaskResponse, error) {
	r, err := g.s.execute(ctx, Task{
		ID:          req.GetTaskId(),
		Description: req.GetDescription(),
		Data:        req.GetData(),
		Timeout:     fromMillis(req.GetTimeoutMs()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.TaskResponse{
		TaskId:     r.TaskID,
		Result:     r.Result,
		Confidence: r.Confidence,
		Reasoning:  r.Reasoning,
	}, nil
}

func (g *grpcServer) HealthCheck(ctx context.Context, _ *agentv1.HealthRequest) (*agentv1.HealthResponse, error) {
	h := g.s.h.Health(ctx)
	return &agentv1.HealthResponse{Healthy: h.Healthy, Message: h.Message}, nil
}

func (g *grpcServer) StreamOutput(req *agentv1.OutputRequest, stream agentv1.Agent_StreamOutputServer) error {
	id := req.GetTaskId()
	err := g.s.follow(stream.Context(), id, func(b []byte) error {
		return stream.Send(&agentv1.OutputChunk{TaskId: id, Data: b})
	})
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&agentv1.OutputChunk{TaskId: id, Done: true})
}
