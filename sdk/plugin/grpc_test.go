package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

var fixedTime = time.Date(2025, 3, 4, 5, 6, 7, 8000, time.UTC)

func testSpec(id string) runtime.Spec {
	return runtime.Spec{
		ID:        id,
		Argv:      []string{"claude", "--print"},
		Env:       map[string]string{"TERM": "xterm-256color"},
		Workdir:   "/src",
		Size:      runtime.Size{Cols: 120, Rows: 40},
		Resources: runtime.Resources{CPU: "500m", Memory: "2Gi", Timeout: time.Hour},
		Labels:    map[string]string{"team": "a"},
		Image:     "parallax/agent-claude:latest",
		Home:      "/var/lib/parallax/agents/a1/home",
	}
}

func TestDescribeDerivesCapabilitiesFromInterfaces(t *testing.T) {
	tests := []struct {
		name string
		impl runtime.Runtime
		want runtime.Capabilities
	}{
		{
			name: "without optional interfaces",
			impl: newBasicRuntime(),
			want: runtime.Capabilities{CPULimit: true, Timeout: true},
		},
		{
			name: "with all optional interfaces",
			impl: newFullRuntime(),
			want: runtime.Capabilities{Resize: true, Stats: true, Adopt: true, CPULimit: true, Timeout: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := plugin.TestClient(t, tt.impl).Describe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.Capabilities != tt.want {
				t.Errorf("Capabilities = %+v, want %+v", info.Capabilities, tt.want)
			}
			if info.ProtocolVersion != runtime.ProtocolVersion {
				t.Errorf("ProtocolVersion = %d, want %d", info.ProtocolVersion, runtime.ProtocolVersion)
			}
			wantSchema := []runtime.ConfigAttr{
				{Name: "network", Type: "string", Required: true, Description: "docker network"},
				{Name: "images", Type: "map(string)"},
			}
			if info.Name != "fake" || info.Version != "1.2.3" || info.DefaultPriority != 42 ||
				!reflect.DeepEqual(info.ConfigSchema, wantSchema) ||
				info.AgentPaths != (runtime.AgentPaths{Home: "/home/agent", Workdir: "/workspace"}) {
				t.Errorf("Describe = %+v", info)
			}
		})
	}
}

func TestEveryCallRoundTrips(t *testing.T) {
	ctx := context.Background()
	impl := newFullRuntime()
	c := plugin.TestClient(t, impl)

	cfg := runtime.ConfigureRequest{HostInstance: "host-1", Config: []byte(`{"network":"none"}`), DataDir: "/var/lib/parallax/runtimes/docker"}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := impl.configuredWith(); !reflect.DeepEqual(got, cfg) {
		t.Errorf("runtime got %+v, want %+v", got, cfg)
	}

	spec := testSpec("a1")
	started, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := impl.agent("a1")
	if err != nil {
		t.Fatal(err)
	}
	if got := agent.spec; !reflect.DeepEqual(got, spec) {
		t.Errorf("runtime got spec %+v, want %+v", got, spec)
	}
	wantInfo := runtime.AgentInfo{
		ID: "a1", State: runtime.StateRunning, PID: 4242, StartedAt: fixedTime,
		Labels: spec.Labels, Warnings: []string{"cpu limit not enforced"},
	}
	if !reflect.DeepEqual(started, wantInfo) {
		t.Errorf("Start = %+v, want %+v", started, wantInfo)
	}

	inspected, err := c.Inspect(ctx, "a1")
	if err != nil || !reflect.DeepEqual(inspected, wantInfo) {
		t.Errorf("Inspect = %+v, %v; want %+v", inspected, err, wantInfo)
	}
	list, err := c.List(ctx)
	if err != nil || !reflect.DeepEqual(list, []runtime.AgentInfo{wantInfo}) {
		t.Errorf("List = %+v, %v", list, err)
	}
	health, err := c.Health(ctx)
	if want := (runtime.Health{Healthy: true, Message: "ok", ActiveAgents: 1}); err != nil || health != want {
		t.Errorf("Health = %+v, %v; want %+v", health, err, want)
	}

	if err := c.Resize(ctx, "a1", runtime.Size{Cols: 80, Rows: 24}); err != nil {
		t.Fatal(err)
	}
	if got := <-impl.resized; got != (runtime.Size{Cols: 80, Rows: 24}) {
		t.Errorf("runtime resized to %+v", got)
	}
	stats, err := c.Stats(ctx, "a1")
	wantStats := runtime.Stats{CPUPercent: 12.5, MemoryBytes: 1 << 30, Uptime: 90 * time.Second, Processes: 3}
	if err != nil || stats != wantStats {
		t.Errorf("Stats = %+v, %v; want %+v", stats, err, wantStats)
	}
	exit, err := c.Wait(ctx, "a1")
	wantExit := runtime.ExitStatus{Code: -1, Signal: "SIGTERM", Reason: "stopped", ExitedAt: fixedTime}
	if err != nil || exit != wantExit {
		t.Errorf("Wait = %+v, %v; want %+v", exit, err, wantExit)
	}

	recovered, err := c.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recovered) != 2 || recovered[0].ID != "survivor" || recovered[0].Exit != nil ||
		!reflect.DeepEqual(recovered[0].Env, map[string]string{"API_KEY": "sk-secret"}) || recovered[1].Env != nil ||
		recovered[1].Exit == nil || recovered[1].Exit.Reason != "exited" || !recovered[1].Exit.ExitedAt.Equal(fixedTime) {
		t.Errorf("Recover = %+v", recovered)
	}

	opts := runtime.StopOptions{Timeout: 3 * time.Second, Force: true}
	if err := c.Stop(ctx, "a1", opts); err != nil {
		t.Fatal(err)
	}
	if got := impl.stoppedWith("a1"); got != opts {
		t.Errorf("runtime got stop options %+v, want %+v", got, opts)
	}
}

func TestOptionalFeaturesMissingAreUnsupported(t *testing.T) {
	ctx := context.Background()
	c := plugin.TestClient(t, newBasicRuntime())
	calls := map[string]func() error{
		"Resize":  func() error { return c.Resize(ctx, "a1", runtime.Size{Cols: 1, Rows: 1}) },
		"Stats":   func() error { _, err := c.Stats(ctx, "a1"); return err },
		"Recover": func() error { _, err := c.Recover(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, runtime.ErrUnsupported) {
				t.Errorf("err = %v, want ErrUnsupported", err)
			}
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("code = %v, want Unimplemented", status.Code(err))
			}
			if plugin.IsUnavailable(err) {
				t.Errorf("IsUnavailable(%v) = true", err)
			}
		})
	}
}

func TestErrorsKeepTheirKindAndText(t *testing.T) {
	tests := []struct {
		sentinel error
		code     codes.Code
	}{
		{runtime.ErrNotFound, codes.NotFound},
		{runtime.ErrAlreadyExists, codes.AlreadyExists},
		{runtime.ErrInvalidSpec, codes.InvalidArgument},
		{runtime.ErrUnsupported, codes.Unimplemented},
		{runtime.ErrNotConfigured, codes.FailedPrecondition},
		{errors.New("disk on fire"), codes.Unknown},
		// A runtime's own context error must not look like a cancelled
		// call or a dead plugin.
		{context.Canceled, codes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.sentinel.Error(), func(t *testing.T) {
			impl := newBasicRuntime()
			impl.fail = fmt.Errorf("%w: detail 42", tt.sentinel)
			c := plugin.TestClient(t, impl)

			_, err := c.Inspect(context.Background(), "a1")
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != impl.fail.Error() {
				t.Errorf("text = %q, want %q", err, impl.fail)
			}
			if got := status.Code(err); got != tt.code {
				t.Errorf("code = %v, want %v", got, tt.code)
			}
			if tt.code != codes.Unknown && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			for _, other := range []error{runtime.ErrNotFound, runtime.ErrAlreadyExists, runtime.ErrInvalidSpec,
				runtime.ErrUnsupported, runtime.ErrNotConfigured, context.Canceled} {
				if other != tt.sentinel && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %v) = true", err, other)
				}
			}
			if plugin.IsUnavailable(err) {
				t.Errorf("IsUnavailable(%v) = true", err)
			}
		})
	}
}

func TestCallerCancellationIsNotUnavailable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := plugin.TestClient(t, newBasicRuntime()).Health(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if plugin.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = true", err)
	}
}

func TestCallsAfterKillAreUnavailable(t *testing.T) {
	c := plugin.TestClient(t, newBasicRuntime())
	c.Kill()
	if !c.Exited() {
		t.Error("Exited() = false after Kill")
	}
	_, err := c.Health(context.Background())
	if !plugin.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false", err)
	}
	if !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("error %q doesn't say the plugin is unavailable", err)
	}
}
