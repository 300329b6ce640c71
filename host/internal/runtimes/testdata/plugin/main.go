// Command plugin serves a fakeruntime.Runtime as a plugin process, for the
// tests of plugins that outlive their host. Each Configure appends a line
// to <data dir>/configured, so that tests can count them.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/fakeruntime"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	plugin.Serve(func(logger hclog.Logger) runtime.Runtime {
		return &counting{
			Runtime: &fakeruntime.Runtime{Name: "fake", DefaultPriority: 10,
				Schema: []runtime.ConfigAttr{{Name: "mode", Type: "string"}}},
			log: logger,
		}
	})
}

type counting struct {
	*fakeruntime.Runtime
	log hclog.Logger
}

func (c *counting) Configure(ctx context.Context, req runtime.ConfigureRequest) error {
	c.log.Info("configured", "config", string(req.Config))
	f, err := os.OpenFile(filepath.Join(req.DataDir, "configured"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, string(req.Config)); err != nil {
		return err
	}
	return c.Runtime.Configure(ctx, req)
}
