package plugin

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// buffers backs the gRPC connection between host and plugin; see
// dirtyPool for why it is not gRPC's default.
var buffers = &dirtyPool{}

// codec is the protobuf codec of our connection. It differs from gRPC's
// only in taking its buffers from buffers: the default codec uses the
// default pool whatever the connection is given.
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("plugin codec: %T is not a protobuf message", v)
	}
	size := proto.Size(m)
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := proto.MarshalOptions{UseCachedSize: true}.Marshal(m)
		return mem.BufferSlice{mem.SliceBuffer(b)}, err
	}
	buf := buffers.Get(size)
	b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], m)
	if err != nil {
		buffers.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, buffers)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("plugin codec: %T is not a protobuf message", v)
	}
	buf := data.MaterializeToBuffer(buffers)
	defer buf.Free()
	// Unmarshal copies bytes fields, so nothing points into buf after.
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// dialOptions and serverOptions put the codec and the pool on both ends.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec{})),
		experimental.WithBufferPool(buffers),
	}
}

func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(codec{}),
		experimental.BufferPool(buffers),
	}
}
