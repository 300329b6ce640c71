// Command runtime-kubernetes is the parallax plugin that runs agents as
// pods on a Kubernetes cluster.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/plugins/runtime-kubernetes/kubernetes"
	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

func main() {
	plugin.Serve(func(log hclog.Logger) runtime.Runtime { return kubernetes.New(log) })
}
