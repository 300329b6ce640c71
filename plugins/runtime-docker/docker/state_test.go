package docker

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/parallax/parallax/plugins/runtime-docker/internal/testengine"
	"github.com/parallax/parallax/sdk/runtime"
)

// TestRecoverGivesBackTheEnv: a restarted plugin returns each adopted
// agent's env, keys included, from its container, for the host to mask
// them again; only Recover does.
func TestRecoverGivesBackTheEnv(t *testing.T) {
	cli := testengine.Client(t)
	host := testHost(t)
	ctx := context.Background()
	const key = "sk-ant-FAKE-recover-0042"
	// What an earlier plugin process of this host instance started, as it
	// starts containers: the spec's env in the container's config.
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: testengine.Image, Cmd: sh("exec sleep 300"), Tty: true, OpenStdin: true,
			Env:    []string{"ANTHROPIC_API_KEY=" + key, "TERM=xterm-256color"},
			Labels: map[string]string{labelManaged: "true", labelHostInstance: host, labelAgent: "keyed", labelSpecLabels: `{}`},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	r := newRuntime(t, host, nil)
	adopted, err := r.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(adopted) != 1 || adopted[0].ID != "keyed" {
		t.Fatalf("Recover adopted %+v; want agent \"keyed\"", adopted)
	}
	for k, v := range map[string]string{"ANTHROPIC_API_KEY": key, "TERM": "xterm-256color"} {
		if got := adopted[0].Env[k]; got != v {
			t.Errorf("adopted env %s = %q; want %q", k, got, v)
		}
	}

	started := start(t, r, runtime.Spec{ID: "new", Argv: sh("exec sleep 300"), Env: map[string]string{"ANTHROPIC_API_KEY": key},
		Size: runtime.Size{Cols: 80, Rows: 24}})
	inspected, err := r.Inspect(ctx, "keyed")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	infos := map[string]runtime.AgentInfo{"Start": started, "Inspect": inspected}
	for _, info := range listed {
		infos["List "+info.ID] = info
	}
	for name, info := range infos {
		if info.Env != nil {
			t.Errorf("%s returned the env %v; only Recover may", name, info.Env)
		}
	}
}

func TestEnvMap(t *testing.T) {
	tests := []struct {
		in   []string
		want map[string]string
	}{
		{[]string{"A=1", "B=x=y", "EMPTY="}, map[string]string{"A": "1", "B": "x=y", "EMPTY": ""}},
		{[]string{"NOEQUALS", "=nokey"}, map[string]string{}},
		{nil, map[string]string{}},
	}
	for _, tt := range tests {
		got := envMap(tt.in)
		if len(got) != len(tt.want) {
			t.Errorf("envMap(%q) = %v; want %v", tt.in, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("envMap(%q)[%s] = %q; want %q", tt.in, k, got[k], v)
			}
		}
	}
}
