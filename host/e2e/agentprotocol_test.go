package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

// freeLoopbackPort returns a port nobody listens on now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A managed agent, a fake claude on runtime-local, called through the
// host's Agent protocol: gRPC on agent_listen, and HTTP under the API.
func TestManagedAgentAnswersTheAgentProtocol(t *testing.T) {
	port := freeLoopbackPort(t)
	h := startHost(t, writeConfigServer(t, fmt.Sprintf(`  agent_listen = "127.0.0.1:%d"`, port), "", ""))
	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "command": []string{"/bin/sh", "-c", fakeClaude},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: %d; log:\n%s", code, h.logs())
	}
	h.waitStatus(a.ID, "ready")
	ctx := context.Background()

	for _, endpoint := range []string{
		fmt.Sprintf("grpc://127.0.0.1:%d/%s", port, a.ID),
		h.url + "/agent-protocol/" + a.ID,
	} {
		c, err := protocol.Dial(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		health, err := c.Health(ctx)
		if err != nil || !health.Healthy {
			t.Errorf("%s: health %+v, %v; want healthy", endpoint, health, err)
		}
		res, err := c.Execute(ctx, protocol.Task{ID: "task-" + endpoint[:4], Description: "hello from " + endpoint[:4], Timeout: time.Minute})
		if err != nil {
			t.Fatalf("%s: Execute: %v; log:\n%s", endpoint, err, h.logs())
		}
		if !strings.Contains(string(res.Result), "reply to: hello from "+endpoint[:4]) || res.Confidence != 0.5 || !strings.Contains(res.Reasoning, "default") {
			t.Errorf("%s: result %+v; want the agent's reply, the default confidence and why", endpoint, res)
		}
	}

	// The catalogue shows the managed agent with its protocol endpoint.
	var list []catalogAgent
	h.do("GET", "/api/agents?source=managed", nil, &list)
	if len(list) != 1 || list[0].Endpoint != h.url+"/agent-protocol/"+a.ID {
		t.Errorf("managed entries %+v; want the agent with endpoint %s", list, h.url+"/agent-protocol/"+a.ID)
	}

	c, err := protocol.Dial(fmt.Sprintf("grpc://127.0.0.1:%d/no-such-agent", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Execute(ctx, protocol.Task{Description: "anyone?"}); !errors.Is(err, protocol.ErrInvalid) || !strings.Contains(err.Error(), "no-such-agent") {
		t.Errorf("a task for an unknown agent: %v; want ErrInvalid naming it", err)
	}
}
