package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/parallax/parallax/sdk/runtime"
)

// TestSecretEnvIsTheAgentsEnv: what Recover gives back of an agent's
// Secret, as Start builds it, is the spec's env, without the home's seed.
func TestSecretEnvIsTheAgentsEnv(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-FAKE-secret-env-0042", "TERM": "xterm-256color"}
	tests := []struct {
		name string
		home string
	}{
		{"without a home", ""},
		{"with a home", home},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, `{}`)
			secret, _, err := objects(cfg, "host-1", runtime.Spec{ID: "a1", Argv: []string{"sh"}, Env: env, Home: tt.home}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			client := fake.NewClientset(secret)
			got, err := secretEnv(context.Background(), client, cfg.Namespace, secret.Name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(env) || got["ANTHROPIC_API_KEY"] != env["ANTHROPIC_API_KEY"] || got["TERM"] != env["TERM"] {
				t.Errorf("secretEnv = %v; want %v", got, env)
			}
		})
	}
	if _, err := secretEnv(context.Background(), fake.NewClientset(), "agents", "missing"); err == nil {
		t.Error("secretEnv of a missing Secret: no error")
	}
}
