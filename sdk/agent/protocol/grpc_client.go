package protocol

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/parallax/parallax/sdk/agent/protocol/internal/agentv1"
)

// grpcClient is a Client over gRPC.
type grpcClient struct {
	endpoint string
	conn     *grpc.ClientConn
	rpc      agentv1.AgentClient
}

func (c *grpcClient) Execute(ctx context.Context, t Task) (Result, error) {
	resp, err := c.rpc.ExecuteTask(ctx, &agentv1.TaskRequest{
		TaskId:      t.ID,
		Description: t.Description,
		Data:        t.Data,
		TimeoutMs:   toMillis(t.Timeout),
	})
	if err != nil {
		return Result{}, fromStatus(ctx, c.endpoint, err)
	}
	return Result{
		TaskID:     resp.GetTaskId(),
		Result:     resp.GetResult(),
		Confidence: resp.GetConfidence(),
		Reasoning:  resp.GetReasoning(),
	}, nil
}

func (c *grpcClient) Health(ctx context.Context) (Health, error) {
	resp, err := c.rpc.HealthCheck(ctx, &agentv1.HealthRequest{})
	if err != nil {
		return Health{}, fromStatus(ctx, c.endpoint, err)
	}
	return Health{Healthy: resp.GetHealthy(), Message: resp.GetMessage()}, nil
}

func (c *grpcClient) StreamOutput(ctx context.Context, taskID string, fn func([]byte)) error {
	stream, err := c.rpc.StreamOutput(ctx, &agentv1.OutputRequest{TaskId: taskID})
	if err != nil {
		return fromStatus(ctx, c.endpoint, err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return unavailable(c.endpoint, fmt.Sprintf("output of task %q ended before the task did", taskID))
		}
		if err != nil {
			return fromStatus(ctx, c.endpoint, err)
		}
		if len(chunk.GetData()) > 0 {
			fn(chunk.GetData())
		}
		if chunk.GetDone() {
			return nil
		}
	}
}

func (c *grpcClient) Close() error {
	return c.conn.Close()
}
