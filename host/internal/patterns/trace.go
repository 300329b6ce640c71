package patterns

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parallax/parallax/sdk/agent/protocol"
)

// Span names, one tree per execution: pattern-execution, and under it
// select-agents, spawn-agent, execute-task and cleanup-agents.
const (
	spanExecution = "pattern-execution"
	spanSelect    = "select-agents"
	spanSpawn     = "spawn-agent"
	spanTask      = "execute-task"
	spanCleanup   = "cleanup-agents"
)

// Option configures an Engine.
type Option func(*Engine)

// WithTracerProvider traces executions with tp; without it, nothing is
// traced.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) { e.tracer = tp.Tracer("github.com/parallax/parallax/host/internal/patterns") }
}

// propagator puts the trace context into the Agent protocol's headers:
// W3C traceparent, which agents in any language can read.
var propagator propagation.TextMapPropagator = propagation.TraceContext{}

func (e *Engine) applyOptions(opts []Option) {
	e.tracer = noop.NewTracerProvider().Tracer("")
	for _, o := range opts {
		o(e)
	}
}

// traceExecution starts x's root span; the func ends it with x's outcome.
func (e *Engine) traceExecution(ctx context.Context, x *Execution, kind, strategy string) (context.Context, func()) {
	ctx, span := e.tracer.Start(ctx, spanExecution, trace.WithAttributes(
		attribute.String("pattern.name", x.Pattern),
		attribute.String("pattern.kind", kind),
		attribute.String("execution.id", x.ID),
		attribute.String("strategy", strategy),
	))
	return ctx, func() {
		e.mu.Lock()
		status, msg, confidence := x.Status, x.Error, x.Confidence
		e.mu.Unlock()
		span.SetAttributes(attribute.String("status", status), attribute.Float64("confidence", confidence))
		if status == StatusFailed {
			span.SetStatus(codes.Error, msg)
		}
		span.End()
	}
}

func (e *Engine) startSelect(ctx context.Context, role string, capabilities []string) trace.Span {
	attrs := []attribute.KeyValue{attribute.StringSlice("capabilities", capabilities)}
	if role != "" {
		attrs = append(attrs, attribute.String("role", role))
	}
	_, span := e.tracer.Start(ctx, spanSelect, trace.WithAttributes(attrs...))
	return span
}

func endSelect(span trace.Span, count int, err error) {
	span.SetAttributes(attribute.Int("agent.count", count))
	end(span, err)
}

func (e *Engine) startSpawn(ctx context.Context, agentType, role string) trace.Span {
	_, span := e.tracer.Start(ctx, spanSpawn, trace.WithAttributes(attribute.String("agent.type", agentType), attribute.String("role", role)))
	return span
}

func endSpawn(span trace.Span, id, runtime string, err error) {
	span.SetAttributes(attribute.String("agent.id", id), attribute.String("runtime", runtime))
	end(span, err)
}

type stepKey struct{}

// withStep marks the tasks given under ctx as part of an org chart's step.
func withStep(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, stepKey{}, name)
}

// startTask starts an agent's execute-task span; the context it returns
// carries the span to the agent in the protocol's headers.
func (e *Engine) startTask(ctx context.Context, agentID string) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attribute.String("agent.id", agentID)}
	if step, ok := ctx.Value(stepKey{}).(string); ok {
		attrs = append(attrs, attribute.String("step", step))
	}
	ctx, span := e.tracer.Start(ctx, spanTask, trace.WithAttributes(attrs...))
	headers := propagation.MapCarrier{}
	propagator.Inject(ctx, headers)
	if len(headers) > 0 {
		ctx = protocol.WithHeaders(ctx, headers)
	}
	return ctx, span
}

func endTask(span trace.Span, r AgentResult, err error) {
	span.SetAttributes(attribute.Float64("confidence", r.Confidence), attribute.Int64("duration_ms", r.DurationMs))
	end(span, err)
}

func (e *Engine) startCleanup(ctx context.Context, ids []string) trace.Span {
	_, span := e.tracer.Start(ctx, spanCleanup, trace.WithAttributes(attribute.Int("agent.count", len(ids))))
	return span
}

// end ends span, marking it failed by err if not nil.
func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
