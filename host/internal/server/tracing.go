package server

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel"

	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/patterns"
	"github.com/parallax/parallax/host/internal/telemetry"
)

// flushTimeout bounds sending the last spans at shutdown, so a collector
// that is down can't hold the host up.
const flushTimeout = 10 * time.Second

// startTracing sets up the exporter the config names, if any, and returns
// the engine's options and a func that flushes and stops it.
func startTracing(ctx context.Context, c *config.Tracing, version, instance string, log hclog.Logger) ([]patterns.Option, func(), error) {
	if c == nil {
		return nil, func() {}, nil
	}
	tp, err := telemetry.NewTracerProvider(ctx, c, version, instance)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry.tracing: %w", err)
	}
	// The SDK's default prints to stderr outside the host's log format.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("exporting spans failed", "error", err) }))
	// Not the headers: they often hold a token.
	log.Info("tracing on", "endpoint", c.Endpoint, "protocol", c.Protocol, "sample_ratio", c.SampleRatio)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("flushing spans at shutdown failed", "error", err)
		}
	}
	return []patterns.Option{patterns.WithTracerProvider(tp)}, stop, nil
}
