package plugin

import (
	"context"
	"io"
	"sync/atomic"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// Client is a runtime plugin as the host sees it. It implements
// runtime.Runtime and all the optional interfaces; the optional methods of
// a plugin that lacks them return an error wrapping runtime.ErrUnsupported,
// and Describe's Capabilities say which those are.
//
// Errors the runtime returned keep their text and match the runtime
// package's sentinels with errors.Is. IsUnavailable tells them from the
// plugin being gone.
type Client struct {
	rpc      runtimev1.RuntimeClient
	proc     process
	detached atomic.Bool
}

// process is what runs the plugin: a process from Launch or Reattach, or
// an in-process server from TestClient.
type process interface {
	kill()
	exited() bool
	pid() int
	reattachConfig() ReattachConfig
	detach()
}

var (
	_ runtime.Runtime       = (*Client)(nil)
	_ runtime.Resizer       = (*Client)(nil)
	_ runtime.StatsReporter = (*Client)(nil)
	_ runtime.Adopter       = (*Client)(nil)
)

// Kill ends the plugin and closes the connection to it. It asks the plugin
// to exit and kills it after a short grace period. Agents the runtime
// runs outside its own process survive it. After Detach it does nothing.
func (c *Client) Kill() {
	if c.proc != nil && !c.detached.Load() {
		c.proc.kill()
	}
}

// Detach closes the connection to the plugin and leaves it running, for a
// later Reattach; the Client is of no use after. Only a plugin launched
// WithOutliveHost survives the host's exit: Detach doesn't change that.
// A TestClient's server is closed as by Kill, there being no process to
// leave running.
func (c *Client) Detach() {
	if c.proc != nil && !c.detached.Swap(true) {
		c.proc.detach()
	}
}

// ReattachConfig says how to Reattach to the plugin. It is the zero
// ReattachConfig for a TestClient.
func (c *Client) ReattachConfig() ReattachConfig {
	if c.proc == nil {
		return ReattachConfig{}
	}
	return c.proc.reattachConfig()
}

// Exited reports whether the plugin has exited.
func (c *Client) Exited() bool {
	return c.proc != nil && c.proc.exited()
}

// PID is the plugin's process id, or 0 for a TestClient.
func (c *Client) PID() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.pid()
}

func (c *Client) Describe(ctx context.Context) (runtime.Info, error) {
	resp, err := c.rpc.Describe(ctx, &runtimev1.DescribeRequest{})
	if err != nil {
		return runtime.Info{}, fromStatus(ctx, err)
	}
	return infoFromProto(resp.GetInfo()), nil
}

func (c *Client) Configure(ctx context.Context, req runtime.ConfigureRequest) error {
	_, err := c.rpc.Configure(ctx, &runtimev1.ConfigureRequest{
		HostInstance: req.HostInstance,
		ConfigJson:   req.Config,
		DataDir:      req.DataDir,
	})
	return fromStatus(ctx, err)
}

func (c *Client) Health(ctx context.Context) (runtime.Health, error) {
	resp, err := c.rpc.Health(ctx, &runtimev1.HealthRequest{})
	if err != nil {
		return runtime.Health{}, fromStatus(ctx, err)
	}
	return runtime.Health{
		Healthy:      resp.GetHealthy(),
		Message:      resp.GetMessage(),
		ActiveAgents: int(resp.GetActiveAgents()),
	}, nil
}

func (c *Client) Start(ctx context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	resp, err := c.rpc.Start(ctx, &runtimev1.StartRequest{Spec: specToProto(spec)})
	if err != nil {
		return runtime.AgentInfo{}, fromStatus(ctx, err)
	}
	return agentFromProto(resp.GetAgent()), nil
}

// Attach connects to an agent's terminal. ctx bounds only the attaching;
// the connection lasts until it is closed or the agent's output ends. The
// returned value also implements Resizable.
func (c *Client) Attach(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	return openAttach(ctx, c.rpc, id)
}

func (c *Client) Resize(ctx context.Context, id string, size runtime.Size) error {
	_, err := c.rpc.Resize(ctx, &runtimev1.ResizeRequest{Id: id, Size: sizeToProto(size)})
	return fromStatus(ctx, err)
}

func (c *Client) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	_, err := c.rpc.Stop(ctx, &runtimev1.StopRequest{
		Id:      id,
		Timeout: durationToProto(opts.Timeout),
		Force:   opts.Force,
	})
	return fromStatus(ctx, err)
}

func (c *Client) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	resp, err := c.rpc.Wait(ctx, &runtimev1.WaitRequest{Id: id})
	if err != nil {
		return runtime.ExitStatus{}, fromStatus(ctx, err)
	}
	return exitFromProto(resp.GetExit()), nil
}

func (c *Client) Inspect(ctx context.Context, id string) (runtime.AgentInfo, error) {
	resp, err := c.rpc.Inspect(ctx, &runtimev1.InspectRequest{Id: id})
	if err != nil {
		return runtime.AgentInfo{}, fromStatus(ctx, err)
	}
	return agentFromProto(resp.GetAgent()), nil
}

func (c *Client) List(ctx context.Context) ([]runtime.AgentInfo, error) {
	resp, err := c.rpc.List(ctx, &runtimev1.ListRequest{})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return agentsFromProto(resp.GetAgents()), nil
}

func (c *Client) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	resp, err := c.rpc.Stats(ctx, &runtimev1.StatsRequest{Id: id})
	if err != nil {
		return runtime.Stats{}, fromStatus(ctx, err)
	}
	return statsFromProto(resp), nil
}

func (c *Client) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	resp, err := c.rpc.Recover(ctx, &runtimev1.RecoverRequest{})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return agentsFromProto(resp.GetAgents()), nil
}
