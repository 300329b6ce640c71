package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/parallax/parallax/sdk/runtime"
)

// A container outlives the plugin process that started it. What survives
// a restart is the container and its labels, which say whose it is: a
// restarted plugin lists the containers labelled with its host instance,
// adopts the running ones and removes the rest. Containers without our
// labels, or with another host instance's, are never touched.
const (
	labelPrefix       = "parallax."
	labelManaged      = "parallax.managed" // always "true"
	labelAgent        = "parallax.agent"   // the agent id
	labelHostInstance = "parallax.host-instance"
	// labelDeadline is when the agent's timeout ends (RFC 3339), so a
	// restarted plugin enforces it too.
	labelDeadline = "parallax.deadline"
	// labelSpecLabels holds the host's labels for the agent as a JSON
	// object, to give them back on adoption exactly as they were.
	labelSpecLabels = "parallax.spec-labels"
)

func isReservedLabel(key string) bool { return strings.HasPrefix(key, labelPrefix) }

// containerLabels are the config's extra labels and ours. Env, where the
// credentials are, never goes here: labels are shown to anyone who may
// list containers.
func containerLabels(cfg Config, host string, spec runtime.Spec) map[string]string {
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	specLabels := spec.Labels
	if specLabels == nil {
		specLabels = map[string]string{}
	}
	labels[labelManaged] = "true"
	labels[labelAgent] = spec.ID
	labels[labelHostInstance] = host
	labels[labelSpecLabels] = mustJSON(specLabels)
	return labels
}

// containerName names an agent's container after its id, readable in
// `docker ps`, with a hash of host instance and id: two hosts on one engine
// may use the same agent id, and ids may hold characters names can't.
func containerName(host, id string) string {
	var b strings.Builder
	b.WriteString("parallax-")
	for _, c := range id {
		if b.Len() >= 49 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(host + "\x00" + id))
	return b.String() + "-" + hex.EncodeToString(sum[:6])
}

// ours lists the containers of this host instance, running or not.
func ours(ctx context.Context, cli *client.Client, host string) ([]container.Summary, error) {
	filters := client.Filters{}.
		Add("label", labelManaged+"=true").
		Add("label", labelHostInstance+"="+host)
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, err
	}
	// The engine matched the labels; check again, as nothing that is not
	// ours may be removed.
	var out []container.Summary
	for _, c := range res.Items {
		if c.Labels[labelManaged] == "true" && c.Labels[labelHostInstance] == host && c.Labels[labelAgent] != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// Recover returns the agents this plugin process holds, for a host that
// reattached to it, after looking for containers an earlier plugin process
// of this host instance started. Running ones within their deadline are
// adopted: attached again and followed. The others (exited, never
// started, past their deadline) are removed. Containers this process
// follows already are left as they are, so a second Recover changes
// nothing.
func (r *Runtime) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	cfg, cli, err := r.ready()
	if err != nil {
		return nil, err
	}
	// A container a Start just created would look left over.
	defer r.agents.PauseStarts()()
	// Logged, not returned: an error would keep from the host the agents
	// this process holds.
	if err := r.adoptLeftovers(ctx, cfg, cli); err != nil {
		r.log.Error("recovering the containers of an earlier plugin process failed", "error", err)
	}
	return r.agents.ListWithEnv()
}

// adoptLeftovers adopts or removes the containers of this host instance
// that r doesn't follow.
func (r *Runtime) adoptLeftovers(ctx context.Context, cfg Config, cli *client.Client) error {
	found, err := ours(ctx, cli, r.host)
	if err != nil {
		return fmt.Errorf("list containers of host instance %q: %w", r.host, err)
	}
	var errs []error
	for _, c := range found {
		id := c.Labels[labelAgent]
		if r.agents.Has(id) {
			continue
		}
		deadline, _ := time.Parse(time.RFC3339Nano, c.Labels[labelDeadline])
		expired := !deadline.IsZero() && time.Now().After(deadline)
		if c.State != container.StateRunning || expired {
			r.log.Info("removing container left by an earlier plugin process",
				"agent", id, "container", shortID(c.ID), "state", c.State, "expired", expired)
			if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				errs = append(errs, fmt.Errorf("remove container %s of agent %q: %w", shortID(c.ID), id, err))
			}
			continue
		}
		if err := r.adopt(ctx, cli, cfg, c, deadline); err != nil {
			errs = append(errs, fmt.Errorf("adopt container %s of agent %q: %w", shortID(c.ID), id, err))
		}
	}
	return errors.Join(errs...)
}

// adopt follows a running container again, kept in r.agents: a new
// attach stream and wait, and its deadline re-armed. Output from before
// the attach is not replayed; the host still has what it read then.
func (r *Runtime) adopt(ctx context.Context, cli *client.Client, cfg Config, c container.Summary, deadline time.Time) error {
	got, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	a := newAgent(r.log, cli, c.Labels[labelAgent], c.ID, cfg.ScrollbackBytes)
	a.Labels = map[string]string{}
	if err := json.Unmarshal([]byte(c.Labels[labelSpecLabels]), &a.Labels); err != nil {
		a.log.Warn("container has no readable host labels; adopting it without them", "error", err)
	}
	a.StartedAt = time.Unix(c.Created, 0)
	if got.Container.State != nil {
		if t, err := time.Parse(time.RFC3339Nano, got.Container.State.StartedAt); err == nil {
			a.StartedAt = t
		}
	}
	// The container is where the env, keys included, is kept; the host
	// needs it to mask the agent's keys after its own restart.
	if got.Container.Config != nil {
		a.Env = envMap(got.Container.Config.Env)
	}
	if err := a.connect(ctx, container.WaitConditionNotRunning); err != nil {
		a.cancel()
		return err
	}
	if err := r.agents.Add(a); err != nil {
		a.stream.Close()
		a.cancel()
		return err
	}
	a.armDeadline(deadline, cfg.DefaultStopTimeout)
	a.follow()
	a.log.Info("adopted container of an earlier plugin process")
	return nil
}

// envMap reads a container's "KEY=value" env, the image's included.
func envMap(kvs []string) map[string]string {
	env := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}
