package agent

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoEtcdServer guards what this module is for: an agent that imports
// its packages builds etcd's client, not its server. The real etcd the
// registry's tests run on lives in the registrytest module, which only
// tests import. (zap is no sign of the server: etcd's client logs with it.)
func TestNoEtcdServer(t *testing.T) {
	// go test runs in the folder of this package, the module's root, so
	// ./... is every package of this module and none of registrytest's,
	// a module of its own in a subfolder. Tests are left out: they may
	// use registrytest.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps ./...: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "go.etcd.io/etcd/client/v3") {
		t.Fatalf("go list -deps ./... does not list go.etcd.io/etcd/client/v3, which the registry imports; it printed:\n%s", out)
	}
	var bad []string
	for _, dep := range deps {
		if strings.HasPrefix(dep, "go.etcd.io/etcd/server/") || strings.HasPrefix(dep, "go.etcd.io/bbolt") {
			bad = append(bad, dep)
		}
	}
	if len(bad) > 0 {
		t.Errorf("packages of sdk/agent depend on etcd's server: agents that import them would build it too:\n%s", strings.Join(bad, "\n"))
	}
}
