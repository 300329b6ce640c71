package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/parallax/parallax/sdk/runtimetest"
	"github.com/parallax/parallax/test/kube/testcluster"
	"github.com/parallax/parallax/test/kube/testkubelet"
)

// The test here runs agents on runtime-kubernetes through the host, on a
// real API server (see test/kube/testcluster; the fake kubelet of
// test/kube/testkubelet runs pods as local processes). It needs the
// Kubernetes binaries test/kube/setup.sh builds (make test runs it);
// without them it skips loudly, and fails under CI=true.

// buildKubernetesPlugin builds the kubernetes plugin next to the local one.
var buildKubernetesPlugin = sync.OnceValue(func() error {
	cmd := exec.Command("go", "build", "-o", filepath.Join(bins.plugins, "parallax-runtime-kubernetes"),
		"github.com/parallax/parallax/plugins/runtime-kubernetes")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
})

// startKubernetes starts a cluster with the fake kubelet running its node,
// and builds the kubernetes plugin. It skips (fails under CI) when there
// are no Kubernetes binaries.
func startKubernetes(t *testing.T) *testcluster.Cluster {
	t.Helper()
	c := testkubelet.StartCluster(t)
	if err := buildKubernetesPlugin(); err != nil {
		t.Fatalf("building parallax-runtime-kubernetes: %v", err)
	}
	return c
}

// kubernetesRuntime is a runtime "kubernetes" block on cluster c.
func kubernetesRuntime(c *testcluster.Cluster) string {
	return fmt.Sprintf(`
runtime "kubernetes" {
  config {
    kubeconfig           = %q
    namespace            = %q
    images               = { claude = "parallax/agent-claude:test" }
    default_stop_timeout = "3s"
  }
}
`, c.Kubeconfig, c.Namespace)
}

func TestKubernetesRuntime_SpawnsSendsAndDeletes(t *testing.T) {
	c := startKubernetes(t)
	h := startHost(t, writeConfigWith(t, "", kubernetesRuntime(c)))

	var runtimes []struct {
		Name    string `json:"name"`
		Healthy bool   `json:"healthy"`
	}
	h.do("GET", "/api/runtimes", nil, &runtimes)
	healthy := false
	for _, r := range runtimes {
		healthy = healthy || r.Name == "kubernetes" && r.Healthy
	}
	if !healthy {
		t.Fatalf("runtimes %+v; want kubernetes, healthy; log:\n%s", runtimes, h.logs())
	}

	var a agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "kubernetes", "command": []string{"/bin/sh", "-c", fakeClaude},
		"credentials": map[string]string{"anthropicKey": "sk-ant-FAKE-e2e-0123456789abcdef"},
		"resources":   map[string]any{"cpu": "500m", "memory": "256Mi"},
	}, &a); code != http.StatusCreated {
		t.Fatalf("spawn: status %d; log:\n%s", code, h.logs())
	}
	if a.Runtime != "kubernetes" {
		t.Errorf("agent runtime %q", a.Runtime)
	}
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "parallax.agent=" + a.ID})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of agent %s: %v %v", a.ID, pods, err)
	}
	pod := pods.Items[0]
	if img := pod.Spec.Containers[0].Image; img != "parallax/agent-claude:test" {
		t.Errorf("image %q, want the claude image of the config", img)
	}
	// A pod takes longer than a local process; a loaded machine, longer
	// than the harness's 30 s.
	runtimetest.Eventually(t, 2*time.Minute, "agent "+a.ID+" to be ready", func() bool {
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
		return a.Status == "ready"
	}, func() string { return fmt.Sprintf("status %q (%s); log:\n%s", a.Status, a.Error, h.logs()) })

	var reply struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "hello", "expectResponse": true, "timeout": 60}, &reply); code != http.StatusOK || !strings.Contains(reply.Message.Content, "reply to: hello") {
		t.Fatalf("send: status %d, reply %q; log:\n%s", code, reply.Message.Content, h.logs())
	}

	// No metrics-server here: no figures, not zeros.
	var m map[string]any
	if code := h.do("GET", "/api/managed-agents/"+a.ID+"/metrics", nil, &m); code != http.StatusOK || m["memory"] != nil || m["uptime"] == nil {
		t.Errorf("metrics: status %d, %v; want uptime and no memory figure", code, m)
	}

	if code := h.do("DELETE", "/api/managed-agents/"+a.ID, nil, nil); code/100 != 2 {
		t.Fatalf("delete: status %d", code)
	}
	for _, get := range []func() error{
		func() error {
			_, err := c.Client.CoreV1().Pods(c.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := c.Client.CoreV1().Secrets(c.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("after DELETE: %v; want the pod and its secret gone", err)
		}
	}

	// The home the host pre-seeds reaches the pod, naming the workdir as
	// the pod sees it.
	var seeded agent
	if code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "claude", "runtime": "kubernetes", "workdir": t.TempDir(),
		"command": []string{"/bin/sh", "-c", `cat "$HOME/.claude.json"; echo; echo END-OF-HOME; exec sleep 300`},
	}, &seeded); code != http.StatusCreated {
		t.Fatalf("spawn: status %d; log:\n%s", code, h.logs())
	}
	var logs string
	runtimetest.Eventually(t, time.Minute, "END-OF-HOME in the agent's logs", func() bool {
		_, logs = h.get("/api/managed-agents/" + seeded.ID + "/logs")
		return strings.Contains(logs, "END-OF-HOME")
	}, func() string { return logs })
	if !strings.Contains(logs, `"hasCompletedOnboarding": true`) || !strings.Contains(logs, `"/workspace"`) {
		t.Errorf("the agent's $HOME/.claude.json, as it printed it:\n%s", logs)
	}
	h.do("DELETE", "/api/managed-agents/"+seeded.ID+"?force=true", nil, nil)

	// A pod no node can hold fails the spawn with the scheduler's reason.
	var spawnErr apiError
	code := h.do("POST", "/api/managed-agents", map[string]any{
		"type": "custom", "runtime": "kubernetes", "command": []string{"sh"}, "resources": map[string]any{"cpu": "1000"},
	}, &spawnErr)
	if code/100 == 2 || !strings.Contains(spawnErr.Error, "Insufficient cpu") {
		t.Errorf("spawn of a pod too big for any node: status %d, %q; want the scheduler's reason", code, spawnErr.Error)
	}
}
