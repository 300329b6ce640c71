package telemetry

import (
	"context"
	neturl "net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/parallax/parallax/host/internal/config"
)

// ServiceName is what the host's spans say they come from.
const ServiceName = "parallax-host"

// NewTracerProvider returns a provider that batches spans to the OTLP
// collector c names. Shut it down to send what it still holds. It doesn't
// connect: an unreachable collector costs dropped spans, not a host that
// won't start.
func NewTracerProvider(ctx context.Context, c *config.Tracing, version, instance string) (*sdktrace.TracerProvider, error) {
	exp, err := newExporter(ctx, c)
	if err != nil {
		return nil, err
	}
	// Schemaless, so it needn't match the semconv version of the SDK's
	// defaults.
	res := resource.NewSchemaless(
		attribute.String("service.name", ServiceName),
		attribute.String("service.version", version),
		attribute.String("service.instance.id", instance),
	)
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// Parent-based, so an execution is traced whole or not at all.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	), nil
}

func newExporter(ctx context.Context, c *config.Tracing) (*otlptrace.Exporter, error) {
	url := strings.Contains(c.Endpoint, "://")
	if c.Protocol == "grpc" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(c.Headers)}
		if url {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
			if c.Insecure {
				opts = append(opts, otlptracegrpc.WithInsecure())
			}
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(c.Headers)}
	if url {
		endpoint := c.Endpoint
		// The exporter would post a URL without a path to "/"; collectors
		// listen on the standard path.
		if u, err := neturl.Parse(endpoint); err == nil && strings.Trim(u.Path, "/") == "" {
			u.Path = "/v1/traces"
			endpoint = u.String()
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	} else {
		opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
		if c.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
	}
	return otlptracehttp.New(ctx, opts...)
}
