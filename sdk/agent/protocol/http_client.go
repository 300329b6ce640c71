package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponseBytes bounds the JSON answers an httpClient reads.
const maxResponseBytes = 64 << 20

// httpClient is a Client over HTTP.
type httpClient struct {
	endpoint string
	base     *url.URL
	hc       *http.Client
}

func newHTTPClient(endpoint string, base *url.URL) *httpClient {
	// A transport of its own, so that Close can drop its idle
	// connections without touching anyone else's.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &httpClient{endpoint: endpoint, base: base, hc: &http.Client{Transport: transport}}
}

// url is the address of route under the endpoint's path.
func (c *httpClient) url(route string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + route
	u.RawPath = ""
	u.RawQuery = query.Encode()
	return u.String()
}

func (c *httpClient) Execute(ctx context.Context, t Task) (Result, error) {
	data, err := dataToJSON(t.Data)
	if err != nil {
		return Result{}, fmt.Errorf("%w: data is %v", ErrInvalid, err)
	}
	body, err := json.Marshal(executeRequest{
		TaskID:      t.ID,
		Description: t.Description,
		Data:        data,
		Timeout:     toMillis(t.Timeout),
	})
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/execute", nil), bytes.NewReader(body))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")

	var resp executeResponse
	if err := c.do(req, &resp, http.StatusOK); err != nil {
		return Result{}, err
	}
	result, err := dataFromJSON(resp.Result)
	if err != nil {
		return Result{}, fmt.Errorf("%s: result: %w", c.endpoint, err)
	}
	return Result{
		TaskID:     resp.TaskID,
		Result:     result,
		Confidence: resp.Confidence,
		Reasoning:  resp.Reasoning,
	}, nil
}

func (c *httpClient) Health(ctx context.Context) (Health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/health", nil), nil)
	if err != nil {
		return Health{}, err
	}
	var resp healthResponse
	// 503 carries an unhealthy agent's answer, not a failure.
	if err := c.do(req, &resp, http.StatusOK, http.StatusServiceUnavailable); err != nil {
		return Health{}, err
	}
	return Health{Healthy: resp.Healthy, Message: resp.Message}, nil
}

func (c *httpClient) StreamOutput(ctx context.Context, taskID string, fn func([]byte)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/output", url.Values{"taskId": {taskID}}), nil)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.errorFrom(resp)
	}
	buf := make([]byte, chunkSize)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			fn(buf[:n])
		}
		switch {
		case err == io.EOF:
			return nil // the server ends the body when the task ends
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("output of task %q: %w", taskID, ctx.Err())
		case err != nil:
			return unavailable(c.endpoint, fmt.Sprintf("output of task %q broke off: %v", taskID, err))
		}
	}
}

func (c *httpClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// do sends req and decodes the JSON answer into v if its status is one of
// ok.
func (c *httpClient) do(req *http.Request, v any, ok ...int) error {
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for _, code := range ok {
		if resp.StatusCode == code {
			body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
			if err != nil {
				return c.transportError(req.Context(), err)
			}
			if err := json.Unmarshal(body, v); err != nil {
				return fmt.Errorf("%s: malformed answer: %w", c.endpoint, err)
			}
			return nil
		}
	}
	return c.errorFrom(resp)
}

// send sends req, turning a failure to get an answer into the
// Client's errors.
func (c *httpClient) send(req *http.Request) (*http.Response, error) {
	setHeaders(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(req.Context(), err)
	}
	return resp, nil
}

func (c *httpClient) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &remoteError{msg: err.Error(), kind: ctx.Err()}
	}
	return unavailable(c.endpoint, err.Error())
}

// errorFrom is the error a response with a failure status stands for.
// The status decides the kind, so that a proxy's 502 in front of an agent
// that is down is ErrUnavailable too.
func (c *httpClient) errorFrom(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	var e errorResponse
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	} else if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return &remoteError{msg: msg, kind: ErrInvalid}
	case http.StatusGatewayTimeout:
		return &remoteError{msg: msg, kind: ErrTimeout}
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return unavailable(c.endpoint, msg)
	case http.StatusInternalServerError:
		return &remoteError{msg: msg}
	}
	// Likely not an agent at all, say a 404 for a wrong path.
	return fmt.Errorf("%s: HTTP %d: %s", c.endpoint, resp.StatusCode, msg)
}
