package protocol

import (
	"context"
	"maps"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

type outgoingKey struct{}

type incomingKey struct{}

// WithHeaders returns ctx with h added to the headers every call made
// with it sends; a key given again replaces the earlier value. A pair
// that can't travel on both transports is left out rather than failing
// the call: keys must be letters, digits, '-', '_' or '.', and values
// printable ASCII. Keys the protocol uses itself (content-type, host,
// grpc-*, ...) are left out too.
func WithHeaders(ctx context.Context, h map[string]string) context.Context {
	prev, _ := ctx.Value(outgoingKey{}).(map[string]string)
	merged := make(map[string]string, len(prev)+len(h))
	maps.Copy(merged, prev)
	for k, v := range h {
		k = strings.ToLower(k)
		if sendable(k, v) {
			merged[k] = v
		}
	}
	return context.WithValue(ctx, outgoingKey{}, merged)
}

// HeadersFrom returns the headers of the call a Handler is serving, keys
// in lower case, several values of one key joined with ","; nil outside a
// call. It holds everything the transport delivered, not only what the
// caller set with WithHeaders.
func HeadersFrom(ctx context.Context) map[string]string {
	if h, ok := ctx.Value(incomingKey{}).(map[string]string); ok {
		return h
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil
	}
	h := make(map[string]string, len(md))
	for k, vs := range md {
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return h
}

// reserved are keys that say how the request itself travels; a caller's
// value would break it on one transport or the other.
var reserved = map[string]bool{
	"content-type": true, "content-length": true, "content-encoding": true, "transfer-encoding": true,
	"host": true, "connection": true, "keep-alive": true, "proxy-connection": true, "upgrade": true,
	"te": true, "trailer": true, "user-agent": true, targetKey: true,
}

func sendable(k, v string) bool {
	if k == "" || reserved[k] || strings.HasPrefix(k, "grpc-") || strings.HasSuffix(k, "-bin") {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func outgoing(ctx context.Context) map[string]string {
	h, _ := ctx.Value(outgoingKey{}).(map[string]string)
	return h
}

// withOutgoingMetadata adds ctx's headers to a gRPC call's metadata.
func withOutgoingMetadata(ctx context.Context) context.Context {
	h := outgoing(ctx)
	if len(h) == 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(h))
	for k, v := range h {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// headerOptions send ctx's headers with every gRPC call.
func headerOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withOutgoingMetadata(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withOutgoingMetadata(ctx), desc, cc, method, opts...)
		}),
	}
}

// setHeaders adds the headers of req's context to req.
func setHeaders(req *http.Request) {
	for k, v := range outgoing(req.Context()) {
		req.Header.Set(k, v)
	}
}

// withIncomingHeaders makes r's headers what HeadersFrom returns.
func withIncomingHeaders(r *http.Request) *http.Request {
	h := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return r.WithContext(context.WithValue(r.Context(), incomingKey{}, h))
}
