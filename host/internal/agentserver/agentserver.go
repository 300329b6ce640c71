// Package agentserver serves the Agent protocol for the host's managed
// agents, so a control plane can call a Claude or Codex agent the host runs
// as if it were a registered agent: the task becomes a message, the reply
// the result.
package agentserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/sdk/agent/protocol"
)

// DefaultConfidence is the confidence of a reply that states none.
const DefaultConfidence = 0.5

// DefaultTimeout bounds a task that sets no timeout.
const DefaultTimeout = 10 * time.Minute

// Handler answers the protocol for the managed agent each call targets
// (protocol.Target): grpc://host:port/<agent id>, or the HTTP path
// /agent-protocol/<agent id>.
type Handler struct {
	Get  func(id string) (agents.View, error)
	Send func(ctx context.Context, id, text string, timeout time.Duration) (string, error)
}

var _ protocol.Handler = Handler{}

func (h Handler) Execute(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error) {
	id := protocol.Target(ctx)
	if id == "" {
		return protocol.Result{}, fmt.Errorf("%w: name the managed agent in the endpoint, like grpc://host:port/<agent id>", protocol.ErrInvalid)
	}
	msg := t.Description
	if len(t.Data) > 0 {
		msg += "\n\n" + string(t.Data)
	}
	timeout := DefaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	reply, err := h.Send(ctx, id, msg, timeout)
	if errors.Is(err, agents.ErrNotFound) {
		return protocol.Result{}, fmt.Errorf("%w: no managed agent %s", protocol.ErrInvalid, id)
	}
	if err != nil {
		return protocol.Result{}, err
	}
	_, _ = io.WriteString(out, reply)
	confidence, stated := StatedConfidence(reply)
	reasoning := "the agent stated its confidence"
	if !stated {
		reasoning = fmt.Sprintf("the agent stated no confidence; %.1f is the default", DefaultConfidence)
	}
	return protocol.Result{TaskID: t.ID, Result: []byte(reply), Confidence: confidence, Reasoning: reasoning}, nil
}

func (h Handler) Health(ctx context.Context) protocol.Health {
	id := protocol.Target(ctx)
	v, err := h.Get(id)
	if err != nil {
		return protocol.Health{Healthy: false, Message: fmt.Sprintf("no managed agent %q", id)}
	}
	healthy := v.Status == session.StatusReady || v.Status == session.StatusBusy
	msg := string(v.Status)
	if v.Error != "" {
		msg += ": " + v.Error
	}
	return protocol.Health{Healthy: healthy, Message: msg}
}

// confidenceLine is the convention a reply states its confidence by: a
// line like "Confidence: 0.8" or "confidence: 80%", the last one winning.
var confidenceLine = regexp.MustCompile(`(?im)^[\s*_>#-]*confidence\s*[:=]\s*\**\s*([0-9]*\.?[0-9]+)\s*(%?)`)

// StatedConfidence reads the confidence a reply states, as a fraction
// from 0 to 1, or DefaultConfidence with stated false.
func StatedConfidence(reply string) (c float64, stated bool) {
	all := confidenceLine.FindAllStringSubmatch(reply, -1)
	if len(all) == 0 {
		return DefaultConfidence, false
	}
	m := all[len(all)-1]
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return DefaultConfidence, false
	}
	if m[2] == "%" || v > 1 {
		v /= 100
	}
	if v < 0 || v > 1 {
		return DefaultConfidence, false
	}
	return v, true
}
