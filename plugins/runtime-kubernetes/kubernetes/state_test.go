package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

func TestRecoverRemovesOursThatFinishedAndLeavesOthers(t *testing.T) {
	pod := func(name, host string, phase corev1.PodPhase, deadline string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "agents", Annotations: map[string]string{}},
			Status:     corev1.PodStatus{Phase: phase},
		}
		if host != "" {
			p.Labels = map[string]string{labelManaged: "true", labelHostInstance: host, labelAgent: name}
		}
		if deadline != "" {
			p.Annotations[annotationDeadline] = deadline
		}
		return p
	}
	secret := func(name, host string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "agents",
			Labels: map[string]string{labelManaged: "true", labelHostInstance: host}}}
	}
	past := time.Now().Add(-time.Hour).Format(time.RFC3339Nano)
	client := fake.NewClientset(
		pod("ours-done", "host-1", corev1.PodSucceeded, ""),
		pod("ours-failed", "host-1", corev1.PodFailed, ""),
		pod("ours-expired", "host-1", corev1.PodPending, past),
		pod("theirs", "host-2", corev1.PodSucceeded, ""),
		pod("unlabelled", "", corev1.PodSucceeded, ""),
		secret("ours-done", "host-1"), secret("ours-orphan", "host-1"), secret("theirs", "host-2"),
	)
	r := fakeRuntime(t, client)
	adopted, err := r.Recover(context.Background())
	if err != nil || len(adopted) != 0 {
		t.Fatalf("Recover = %v, %v; want nothing to adopt", adopted, err)
	}
	left := map[string]bool{}
	pods, _ := client.CoreV1().Pods("agents").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		left["pod/"+p.Name] = true
	}
	secrets, _ := client.CoreV1().Secrets("agents").List(context.Background(), metav1.ListOptions{})
	for _, s := range secrets.Items {
		left["secret/"+s.Name] = true
	}
	want := map[string]bool{"pod/theirs": true, "pod/unlabelled": true, "secret/theirs": true}
	if len(left) != len(want) {
		t.Errorf("left after Recover: %v; want %v", left, want)
	}
	for k := range want {
		if !left[k] {
			t.Errorf("Recover removed %s, which is not ours", k)
		}
	}
}

func TestObjectNameIsADNSLabel(t *testing.T) {
	for _, id := range []string{"abc", "ABC_def.ghi", strings.Repeat("x", 100), "---"} {
		name := objectName("host", id)
		if len(name) > 63 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
			t.Errorf("objectName(%q) = %q, not a DNS label", id, name)
		}
	}
	if objectName("host-a", "x") == objectName("host-b", "x") {
		t.Error("two host instances name an agent's pod alike")
	}
}
