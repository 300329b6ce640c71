#!/bin/sh
# Regenerates the Go code beside agentv1/agent.proto. Needs protoc on PATH;
# installs the Go plugins into GOBIN, protoc-gen-go at the
# google.golang.org/protobuf version sdk/agent/go.mod requires, so the
# generated code always matches the runtime library.
set -eu

cd "$(dirname "$0")"

GOBIN="${GOBIN:-$(go env GOPATH)/bin}"
export GOBIN

protobuf_version="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
go install "google.golang.org/protobuf/cmd/protoc-gen-go@${protobuf_version}"
go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"

PATH="$GOBIN:$PATH" protoc \
	--proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	agentv1/agent.proto
