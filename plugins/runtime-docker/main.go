// Command runtime-docker is the parallax plugin that runs agents in
// containers on a Docker engine.
package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/parallax/parallax/plugins/runtime-docker/docker"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	plugin.Serve(func(log hclog.Logger) runtime.Runtime { return docker.New(log) })
}
