// Command runtime-skeleton is the smallest complete parallax runtime
// plugin: it runs each agent's argv on a PTY of this machine, and nothing
// more. Copy it to start a runtime of your own; README.md says what to
// change first.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	plugin.Serve(func(log hclog.Logger) runtime.Runtime { return New(log) })
}
