package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"
)

// ensureImage makes sure image is on the engine, pulling it as policy
// says. A missing image is the most likely first error a user meets, so
// the message says how to get it.
func ensureImage(ctx context.Context, cli *client.Client, policy, image string, log hclog.Logger) error {
	if policy != pullAlways {
		_, err := cli.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("look up image %q: %w", image, err)
		}
		if policy == pullNever {
			return fmt.Errorf("image %q is not on the Docker engine and pull_policy is \"never\": "+
				"build it with `make images` (see plugins/runtime-docker/images), or set pull_policy = \"if-missing\"", image)
		}
	}
	log.Info("pulling image", "image", image)
	resp, err := cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
		_ = resp.Close()
	}
	if err != nil {
		return fmt.Errorf("pull image %q: %w; for the parallax images, build them with `make images` instead", image, err)
	}
	return nil
}
