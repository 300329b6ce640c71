package plugin

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// server serves a runtime.Runtime over gRPC, in the plugin process.
type server struct {
	runtimev1.UnimplementedRuntimeServer
	impl    runtime.Runtime
	logger  hclog.Logger
	secrets *secretMask
}

func newServer(impl runtime.Runtime, logger hclog.Logger, secrets *secretMask) *server {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &server{impl: impl, logger: logger, secrets: secrets}
}

// unsupported is the error for an optional interface impl lacks.
func unsupported(feature string) error {
	return toStatus(fmt.Errorf("%s: %w", feature, runtime.ErrUnsupported))
}

func (s *server) Describe(ctx context.Context, _ *runtimev1.DescribeRequest) (*runtimev1.DescribeResponse, error) {
	info, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	// Derived here, not trusted from the runtime, so that what it
	// advertises is what it implements.
	info.ProtocolVersion = runtime.ProtocolVersion
	_, info.Capabilities.Resize = s.impl.(runtime.Resizer)
	_, info.Capabilities.Stats = s.impl.(runtime.StatsReporter)
	_, info.Capabilities.Adopt = s.impl.(runtime.Adopter)
	return &runtimev1.DescribeResponse{Info: infoToProto(info)}, nil
}

func (s *server) Configure(ctx context.Context, req *runtimev1.ConfigureRequest) (*runtimev1.ConfigureResponse, error) {
	err := s.impl.Configure(ctx, runtime.ConfigureRequest{
		HostInstance: req.GetHostInstance(),
		Config:       req.GetConfigJson(),
		DataDir:      req.GetDataDir(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.ConfigureResponse{}, nil
}

func (s *server) Health(ctx context.Context, _ *runtimev1.HealthRequest) (*runtimev1.HealthResponse, error) {
	h, err := s.impl.Health(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.HealthResponse{
		Healthy:      h.Healthy,
		Message:      h.Message,
		ActiveAgents: int32(h.ActiveAgents),
	}, nil
}

func (s *server) Start(ctx context.Context, req *runtimev1.StartRequest) (*runtimev1.StartResponse, error) {
	spec := specFromProto(req.GetSpec())
	// Learnt before the runtime can log a line about the agent.
	s.secrets.learn(spec.ID, spec.Env)
	agent, err := s.impl.Start(ctx, spec)
	if err != nil {
		s.secrets.forget(spec.ID)
		return nil, toStatus(err)
	}
	return &runtimev1.StartResponse{Agent: agentToProto(agent)}, nil
}

func (s *server) Attach(stream runtimev1.Runtime_AttachServer) error {
	return serveAttach(s, stream)
}

func (s *server) Resize(ctx context.Context, req *runtimev1.ResizeRequest) (*runtimev1.ResizeResponse, error) {
	if err := s.resize(ctx, req.GetId(), sizeFromProto(req.GetSize())); err != nil {
		return nil, err
	}
	return &runtimev1.ResizeResponse{}, nil
}

// resize is shared by the Resize RPC and resize frames on Attach.
func (s *server) resize(ctx context.Context, id string, size runtime.Size) error {
	r, ok := s.impl.(runtime.Resizer)
	if !ok {
		return unsupported("resize")
	}
	return toStatus(r.Resize(ctx, id, size))
}

func (s *server) Stop(ctx context.Context, req *runtimev1.StopRequest) (*runtimev1.StopResponse, error) {
	err := s.impl.Stop(ctx, req.GetId(), runtime.StopOptions{
		Timeout: durationFromProto(req.GetTimeout()),
		Force:   req.GetForce(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	s.secrets.forget(req.GetId())
	return &runtimev1.StopResponse{}, nil
}

func (s *server) Wait(ctx context.Context, req *runtimev1.WaitRequest) (*runtimev1.WaitResponse, error) {
	exit, err := s.impl.Wait(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.WaitResponse{Exit: exitToProto(exit)}, nil
}

func (s *server) Inspect(ctx context.Context, req *runtimev1.InspectRequest) (*runtimev1.InspectResponse, error) {
	agent, err := s.impl.Inspect(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.InspectResponse{Agent: agentToProto(agent)}, nil
}

func (s *server) List(ctx context.Context, _ *runtimev1.ListRequest) (*runtimev1.ListResponse, error) {
	agents, err := s.impl.List(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.ListResponse{Agents: agentsToProto(agents)}, nil
}

func (s *server) Stats(ctx context.Context, req *runtimev1.StatsRequest) (*runtimev1.StatsResponse, error) {
	r, ok := s.impl.(runtime.StatsReporter)
	if !ok {
		return nil, unsupported("stats")
	}
	stats, err := r.Stats(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return statsToProto(stats), nil
}

func (s *server) Recover(ctx context.Context, _ *runtimev1.RecoverRequest) (*runtimev1.RecoverResponse, error) {
	r, ok := s.impl.(runtime.Adopter)
	if !ok {
		return nil, unsupported("recover")
	}
	agents, err := r.Recover(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	for _, a := range agents {
		s.secrets.learn(a.ID, a.Env)
	}
	return &runtimev1.RecoverResponse{Agents: agentsToProto(agents)}, nil
}
