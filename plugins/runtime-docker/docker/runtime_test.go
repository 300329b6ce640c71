package docker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/parallax/parallax/plugins/runtime-docker/internal/testengine"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// The tests here need an engine; testengine skips them without one (and
// fails them under CI).

func sh(script string) []string { return append(append([]string(nil), testengine.Shell...), script) }

func start(t *testing.T, r *Runtime, spec runtime.Spec) runtime.AgentInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	info, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start %s: %v", spec.ID, err)
	}
	return info
}

// inspect returns the engine's view of an agent's container.
func inspect(t *testing.T, r *Runtime, id string) container.InspectResponse {
	t.Helper()
	a, err := r.agents.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.cli.ContainerInspect(context.Background(), a.container, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect container of %s: %v", id, err)
	}
	return got.Container
}

// output collects what an attached connection reads.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func capture(t *testing.T, r *Runtime, id string) (io.ReadWriteCloser, *output) {
	t.Helper()
	c, err := r.Attach(context.Background(), id)
	if err != nil {
		t.Fatalf("Attach %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	o := &output{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c, o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) waitFor(t *testing.T, want string) {
	t.Helper()
	runtimetest.Eventually(t, patience, fmt.Sprintf("output holding %q", want),
		func() bool { return strings.Contains(o.String(), want) },
		func() string { return fmt.Sprintf("%q", o.String()) })
}

func TestLimitsShowInInspect(t *testing.T) {
	r := newRuntime(t, "", map[string]any{"pids_limit": 64, "labels": map[string]string{"team": "infra"}})
	spec := runtime.Spec{
		ID:        "limits",
		Argv:      sh("exec sleep 300"),
		Env:       map[string]string{"ANTHROPIC_API_KEY": "sk-test-secret"},
		Resources: runtime.Resources{CPU: "500m", Memory: "64Mi"},
	}
	start(t, r, spec)
	c := inspect(t, r, spec.ID)
	hc := c.HostConfig
	if hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 {
		t.Errorf("Memory %d MemorySwap %d, want both 64Mi (%d)", hc.Memory, hc.MemorySwap, 64<<20)
	}
	if hc.NanoCPUs != 5e8 {
		t.Errorf("NanoCPUs %d, want 5e8 for \"500m\"", hc.NanoCPUs)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != 64 {
		t.Errorf("PidsLimit %v, want 64", hc.PidsLimit)
	}
	if hc.NetworkMode != "none" {
		t.Errorf("NetworkMode %q, want none", hc.NetworkMode)
	}
	if c.Config.Labels["team"] != "infra" || c.Config.Labels[labelManaged] != "true" {
		t.Errorf("Labels %v", c.Config.Labels)
	}
	for k, v := range c.Config.Labels {
		if strings.Contains(v, "sk-test-secret") {
			t.Errorf("label %s carries the credential", k)
		}
	}
	if !strings.Contains(strings.Join(c.Config.Env, " "), "ANTHROPIC_API_KEY=sk-test-secret") {
		t.Errorf("credential not in the container's env: %q", c.Config.Env)
	}
}

func TestTimeoutStopsAndRemovesTheContainer(t *testing.T) {
	r := newRuntime(t, "", nil)
	spec := runtime.Spec{ID: "short-lived", Argv: sh("exec sleep 300"), Resources: runtime.Resources{Timeout: 2 * time.Second}}
	before := time.Now()
	start(t, r, spec)
	after := time.Now()
	c := inspect(t, r, spec.ID)
	deadline, err := time.Parse(time.RFC3339Nano, c.Config.Labels[labelDeadline])
	if err != nil || deadline.Before(before.Add(2*time.Second)) || deadline.After(after.Add(2*time.Second)) {
		t.Errorf("deadline label %q, want 2s after the Start, between %v and %v", c.Config.Labels[labelDeadline], before, after)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	began := time.Now()
	st, err := r.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reason != "timeout" {
		t.Errorf("Wait = %+v, want Reason timeout", st)
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("the agent ran %v past its start, far more than its 2s timeout", took)
	}
	// Nobody calls Stop: the container goes by itself.
	runtimetest.Eventually(t, patience, "the timed-out container to be gone", func() bool {
		_, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		return cerrdefs.IsNotFound(err)
	}, nil)
}

func TestWorkdirIsMountedAtWorkspace(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("marker-from-the-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, "", map[string]any{"workdir_roots": []string{root}})
	spec := runtime.Spec{ID: "workdir", Argv: sh(`echo "cwd:$(pwd):$(cat marker):end"; echo written > out; exec sleep 300`), Workdir: dir}
	start(t, r, spec)
	_, out := capture(t, r, spec.ID)
	out.waitFor(t, "cwd:/workspace:marker-from-the-host:end")
	runtimetest.Eventually(t, patience, "the agent's write to /workspace to reach the host's workdir", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out"))
		return string(b) == "written\n"
	}, nil)

	outside := runtime.Spec{ID: "outside", Argv: sh("true"), Workdir: t.TempDir()}
	if _, err := r.Start(context.Background(), outside); !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "workdir_roots") {
		t.Errorf("Start with a workdir outside the roots: %v; want ErrInvalidSpec naming workdir_roots", err)
	}
}

// The host's pre-seeded home reaches the agent at /home/agent, owned by
// the container's user although root owns it here and others can't read
// it: a numeric user, a named one (through the image's /etc/passwd) and
// the image's own, root.
func TestHomeIsCopiedToAgentHome(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".codex"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{".claude.json": `{"hasCompletedOnboarding":true}`, ".codex/auth.json": "key-file"} {
		if err := os.WriteFile(filepath.Join(home, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ user, owner string }{
		{"4321:4321", "4321:4321"},
		{"agent", "1000:1000"},
		{"", "0:0"},
	}
	for _, tt := range tests {
		t.Run(cmp.Or(tt.user, "image user"), func(t *testing.T) {
			r := newRuntime(t, "", map[string]any{"user": tt.user})
			spec := runtime.Spec{ID: "home", Home: home, Argv: sh(`cd /home/agent && echo "claude:$(cat .claude.json):codex:$(cat .codex/auth.json)` +
				`:owner:$(stat -c %u:%g:%a .codex/auth.json):dir:$(stat -c %u:%a .codex):end"; exec sleep 300`)}
			start(t, r, spec)
			_, out := capture(t, r, spec.ID)
			uid, _, _ := strings.Cut(tt.owner, ":")
			out.waitFor(t, `claude:{"hasCompletedOnboarding":true}:codex:key-file:owner:`+tt.owner+":600:dir:"+uid+":700:end")
		})
	}

	r := newRuntime(t, "", nil)
	for _, bad := range []string{"relative/home", filepath.Join(home, ".claude.json"), filepath.Join(home, "missing")} {
		spec := runtime.Spec{ID: "bad-home", Home: bad, Argv: sh("true")}
		if _, err := r.Start(context.Background(), spec); !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "home") {
			t.Errorf("Start with home %q: %v; want ErrInvalidSpec naming home", bad, err)
		}
	}
}

// The engine's detach keys would swallow Ctrl-P Ctrl-Q; ours must not.
func TestControlKeysReachTheAgent(t *testing.T) {
	r := newRuntime(t, "", nil)
	spec := runtime.Spec{ID: "keys", Argv: sh(`stty raw -echo; echo ready; head -c 6 | od -An -tx1; echo done; exec sleep 300`)}
	start(t, r, spec)
	c, out := capture(t, r, spec.ID)
	out.waitFor(t, "ready")
	// Ctrl-P Ctrl-Q (the engine's default), then NUL and Ctrl-^, which
	// start our own detach sequence without completing it.
	if _, err := c.Write([]byte{0x10, 0x11, 0x00, 0x1e, 0x10, 'x'}); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "done")
	if !strings.Contains(out.String(), "10 11 00 1e 10 78") {
		t.Errorf("the agent read %q, want the bytes 10 11 00 1e 10 78", out.String())
	}
}

func TestMissingImageSaysHowToGetIt(t *testing.T) {
	r := newRuntime(t, "", map[string]any{"default_image": "parallax/no-such-image:never"})
	_, err := r.Start(context.Background(), runtime.Spec{ID: "noimage", Argv: sh("true")})
	if err == nil || !strings.Contains(err.Error(), "parallax/no-such-image:never") || !strings.Contains(err.Error(), "make images") {
		t.Errorf("Start with a missing image: %v; want an error naming the image and `make images`", err)
	}
	if _, err := r.Inspect(context.Background(), "noimage"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("a failed Start left the agent behind: %v", err)
	}
}

// The init starts the command, so a command missing from the image is no
// start error: the agent exits at once, and its output says why.
func TestUnknownCommandExitsSayingSo(t *testing.T) {
	r := newRuntime(t, "", nil)
	spec := runtime.Spec{ID: "nocmd", Argv: []string{"/no/such/binary"}}
	start(t, r, spec)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := r.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Code == 0 {
		t.Errorf("Wait = %+v, want a failure", st)
	}
	_, out := capture(t, r, spec.ID)
	out.waitFor(t, "/no/such/binary")
}

// plant creates a container the way an earlier plugin process, or someone
// else, would have, and removes it when the test ends.
func plant(t *testing.T, cli *client.Client, labels map[string]string, script string, run bool) string {
	t.Helper()
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: testengine.Image, Cmd: sh(script), Labels: labels, Tty: true, OpenStdin: true},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Init:        func() *bool { b := true; return &b }(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if run {
		if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return created.ID
}

func exists(t *testing.T, cli *client.Client, id string) bool {
	t.Helper()
	_, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestRecover(t *testing.T) {
	cli := testengine.Client(t)
	host := testHost(t)
	mine := func(agent string, extra ...string) map[string]string {
		l := map[string]string{labelManaged: "true", labelHostInstance: host, labelAgent: agent,
			labelSpecLabels: `{"parallax.name":"` + agent + `"}`}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	// What an earlier plugin process of this host instance left.
	running := plant(t, cli, mine("running", labelDeadline, time.Now().Add(time.Hour).Format(time.RFC3339Nano)),
		`while IFS= read -r l; do echo "got:$l:end"; done`, true)
	exited := plant(t, cli, mine("exited"), "exit 3", true)
	neverStarted := plant(t, cli, mine("created"), "exit 0", false)
	expired := plant(t, cli, mine("expired", labelDeadline, time.Now().Add(-time.Minute).Format(time.RFC3339Nano)), "exec sleep 300", true)
	// What is not ours: another host instance's, and a container nobody labelled.
	otherHost := plant(t, cli, map[string]string{labelManaged: "true", labelHostInstance: host + "-other", labelAgent: "running"},
		"exec sleep 300", true)
	stranger := plant(t, cli, nil, "exec sleep 300", true)
	runtimetest.Eventually(t, patience, "the planted container to exit", func() bool {
		got, err := cli.ContainerInspect(context.Background(), exited, client.ContainerInspectOptions{})
		return err == nil && !got.Container.State.Running
	}, nil)

	r := newRuntime(t, host, nil)
	adopted, err := r.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(adopted) != 1 || adopted[0].ID != "running" || adopted[0].State != runtime.StateRunning ||
		adopted[0].Labels["parallax.name"] != "running" {
		t.Fatalf("Recover adopted %+v; want only agent \"running\", with its host labels", adopted)
	}
	for name, id := range map[string]string{"exited": exited, "never started": neverStarted, "expired": expired} {
		if exists(t, cli, id) {
			t.Errorf("the %s container of this host instance is still there", name)
		}
	}
	for name, id := range map[string]string{"another host instance's": otherHost, "unlabelled": stranger} {
		if !exists(t, cli, id) {
			t.Errorf("Recover removed the %s container", name)
		}
	}

	// The adopted agent's terminal works.
	c, out := capture(t, r, "running")
	if _, err := c.Write([]byte("again\n")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "got:again:end")

	// A second Recover, as from a host that reattached, returns the same
	// agent and leaves it be: one attach stream, whose terminal works.
	if again, err := r.Recover(context.Background()); err != nil || len(again) != 1 || again[0].ID != "running" ||
		again[0].State != runtime.StateRunning {
		t.Errorf("a second Recover returned %+v, %v; want agent \"running\" again", again, err)
	}
	if _, err := c.Write([]byte("still\n")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "got:still:end")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := r.Stop(ctx, "running", runtime.StopOptions{Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if exists(t, cli, running) {
		t.Error("Stop left the adopted agent's container")
	}
}
