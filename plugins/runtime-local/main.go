// Command runtime-local is the parallax plugin that runs agents as local
// processes on a PTY.
package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/plugins/runtime-local/local"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	plugin.Serve(func(log hclog.Logger) runtime.Runtime { return local.New(log) })
}
