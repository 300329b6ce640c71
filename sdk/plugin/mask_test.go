package plugin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

// loggingRuntime logs each agent's argv, as runtime-local logs the path it
// starts; a key in it must not reach the log.
type loggingRuntime struct {
	runtime.Runtime
	log       hclog.Logger
	recovered []runtime.AgentInfo
}

func (r *loggingRuntime) Start(_ context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	r.log.Info("agent started", "agent", spec.ID, "argv", spec.Argv)
	return runtime.AgentInfo{ID: spec.ID, State: runtime.StateRunning}, nil
}

func (r *loggingRuntime) Stop(_ context.Context, id string, _ runtime.StopOptions) error {
	return nil
}

func (r *loggingRuntime) Recover(context.Context) ([]runtime.AgentInfo, error) {
	return r.recovered, nil
}

func TestServeMasksTheAgentsKeysInThePluginsLog(t *testing.T) {
	const key, token, plain = "sk-test-0123456789", "ghp_abcdefgh", "not-a-secret-value"
	tests := []struct {
		name string
		// run makes the runtime log a line naming the values; it returns
		// the agent's id.
		run func(t *testing.T, s *server, r *loggingRuntime) string
		// masked says whether the line must show the secrets masked.
		masked bool
	}{
		{"while the agent started runs", func(t *testing.T, s *server, r *loggingRuntime) string {
			start(t, s, "a1", map[string]string{"ANTHROPIC_API_KEY": key, "GITHUB_TOKEN": token, "MODE": plain})
			return "a1"
		}, true},
		{"for an agent recovered after the plugin restarted", func(t *testing.T, s *server, r *loggingRuntime) string {
			r.recovered = []runtime.AgentInfo{{ID: "a2", Env: map[string]string{"OPENAI_API_KEY": key, "GH_TOKEN": token}}}
			if _, err := s.Recover(context.Background(), &runtimev1.RecoverRequest{}); err != nil {
				t.Fatal(err)
			}
			return "a2"
		}, true},
		// Once stopped, its keys are dropped: the set stays as small as the
		// agents alive.
		{"not after the agent was stopped", func(t *testing.T, s *server, r *loggingRuntime) string {
			start(t, s, "a3", map[string]string{"ANTHROPIC_API_KEY": key})
			if _, err := s.Stop(context.Background(), &runtimev1.StopRequest{Id: "a3"}); err != nil {
				t.Fatal(err)
			}
			return "a3"
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			secrets := newSecretMask(&buf)
			log := hclog.New(&hclog.LoggerOptions{Output: secrets, JSONFormat: true})
			r := &loggingRuntime{log: log}
			s := newServer(r, log, secrets)
			id := tt.run(t, s, r)
			buf.Reset()
			log.Info("a line", "agent", id, "text", "key "+key+" token "+token+" mode "+plain)
			line := buf.String()
			if got := strings.Contains(line, key) || strings.Contains(line, token); got == tt.masked {
				t.Errorf("the line shows a secret: %v, want %v:\n%s", got, !tt.masked, line)
			}
			if !strings.Contains(line, plain) {
				t.Errorf("a value that is no secret was masked:\n%s", line)
			}
		})
	}
}

// start starts an agent through the server, as the host does, and checks
// the runtime's own line about it shows no key.
func start(t *testing.T, s *server, id string, env map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	w := s.secrets.w
	s.secrets.w = &buf
	defer func() { s.secrets.w = w }()
	_, err := s.Start(context.Background(), &runtimev1.StartRequest{Spec: &runtimev1.Spec{
		Id: id, Argv: []string{"/tmp/" + env["ANTHROPIC_API_KEY"] + "/sh"}, Env: env,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if k := env["ANTHROPIC_API_KEY"]; k != "" && strings.Contains(buf.String(), k) {
		t.Errorf("the runtime's start line shows the key:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "agent started") {
		t.Errorf("the runtime logged no start line: %q", buf.String())
	}
}
