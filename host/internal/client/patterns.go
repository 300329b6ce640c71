package client

import (
	"context"
	"net/url"

	"github.com/parallax/parallax/host/internal/patterns"
)

// Execution is a pattern execution, as GET /api/executions/:id shows it.
type Execution = patterns.Execution

// Execute starts pattern name on input and returns the execution's id.
func (c *Client) Execute(ctx context.Context, name string, input map[string]string) (string, error) {
	var out struct {
		ExecutionID string `json:"executionId"`
	}
	err := c.do(ctx, "POST", "/api/patterns/"+url.PathEscape(name)+"/execute", nil, map[string]any{"input": input}, &out)
	return out.ExecutionID, err
}

// Execution returns execution id.
func (c *Client) Execution(ctx context.Context, id string) (Execution, error) {
	var x Execution
	err := c.do(ctx, "GET", "/api/executions/"+url.PathEscape(id), nil, nil, &x)
	return x, err
}
