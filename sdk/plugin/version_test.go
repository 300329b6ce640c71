package plugin

import (
	"strconv"
	"strings"
	"testing"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// The protocol version lives in three places; they must never drift.
func TestProtocolVersionMatchesProtoPackage(t *testing.T) {
	pkg := string(runtimev1.File_runtime_v1_runtime_proto.Package())
	last := pkg[strings.LastIndex(pkg, ".")+1:]
	version, err := strconv.Atoi(strings.TrimPrefix(last, "v"))
	if !strings.HasPrefix(last, "v") || err != nil {
		t.Fatalf("proto package %q doesn't end in a version like v1", pkg)
	}
	if version != runtime.ProtocolVersion {
		t.Errorf("proto package %q is version %d, runtime.ProtocolVersion is %d", pkg, version, runtime.ProtocolVersion)
	}
	if Handshake.ProtocolVersion != runtime.ProtocolVersion {
		t.Errorf("Handshake.ProtocolVersion = %d, runtime.ProtocolVersion = %d", Handshake.ProtocolVersion, runtime.ProtocolVersion)
	}
}
