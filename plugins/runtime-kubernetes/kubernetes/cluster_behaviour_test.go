package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtimetest"
	"github.com/parallax/parallax/test/kube/testcluster"
)

// These run the runtime against the real API server of startCluster, one
// cluster for all of them: the objects it makes as the API server stores
// them, scheduling failures, recovery and permissions.
func TestOnCluster(t *testing.T) {
	c := startCluster(t)
	t.Run("PodAndSecretAsStored", func(t *testing.T) { testPodAndSecretAsStored(t, c) })
	t.Run("UnschedulableFailsWithTheReason", func(t *testing.T) { testUnschedulable(t, c) })
	t.Run("RecoverAdoptsARunningPod", func(t *testing.T) { testRecoverAdopts(t, c) })
	t.Run("HealthNamesMissingPermissions", func(t *testing.T) { testHealthPermissions(t, c) })
}

// configured is a runtime for host instance host, force-stopping what it
// has at the end. In process: the conformance suite covers the wire.
func configured(t *testing.T, c *testcluster.Cluster, host string, extra map[string]any) *Runtime {
	t.Helper()
	r := New(testLogger(t))
	t.Cleanup(func() { stopAll(r) })
	if err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: host, Config: clusterConfigJSON(c, extra)}); err != nil {
		t.Fatal(err)
	}
	return r
}

func testPodAndSecretAsStored(t *testing.T, c *testcluster.Cluster) {
	rt := configured(t, c, hostInstance(), map[string]any{"labels": map[string]string{"team": "infra"}})
	ctx := context.Background()
	spec := runtime.Spec{
		ID: "stored-1", Argv: []string{"/bin/sh", "-c", "echo up; exec sleep 300"},
		Env:       map[string]string{"ANTHROPIC_API_KEY": "sk-ant-FAKE-stored-secret", "TERM": "xterm-256color"},
		Resources: runtime.Resources{CPU: "250m", Memory: "64Mi", Timeout: time.Hour},
		Labels:    map[string]string{"parallax.type": "claude"},
	}
	if _, err := rt.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labelAgent + "=stored-1"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of the agent: %v, %v", pods, err)
	}
	pod := pods.Items[0]
	ctr := pod.Spec.Containers[0]
	if !ctr.TTY || !ctr.Stdin || pod.Status.QOSClass != corev1.PodQOSGuaranteed || pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds != 3600 {
		t.Errorf("pod: tty %v stdin %v qos %q deadline %v", ctr.TTY, ctr.Stdin, pod.Status.QOSClass, pod.Spec.ActiveDeadlineSeconds)
	}
	if pod.Labels[labelManaged] != "true" || pod.Labels["team"] != "infra" || pod.Labels[labelHostInstance] == "" {
		t.Errorf("pod labels %v", pod.Labels)
	}
	raw, _ := json.Marshal(pod)
	if strings.Contains(string(raw), "sk-ant-FAKE-stored-secret") {
		t.Error("the stored pod carries the credential")
	}
	secret, err := c.Client.CoreV1().Secrets(c.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["ANTHROPIC_API_KEY"]) != "sk-ant-FAKE-stored-secret" || len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != pod.UID {
		t.Errorf("secret: data keys %d, owners %+v", len(secret.Data), secret.OwnerReferences)
	}

	if err := rt.Stop(ctx, spec.ID, runtime.StopOptions{Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Pods(c.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after Stop: %v; want it gone", err)
	}
	if _, err := c.Client.CoreV1().Secrets(c.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret after Stop: %v; want it gone", err)
	}
}

func testUnschedulable(t *testing.T, c *testcluster.Cluster) {
	rt := configured(t, c, hostInstance(), nil)
	ctx := context.Background()
	_, err := rt.Start(ctx, runtime.Spec{ID: "too-big", Argv: []string{"sh"}, Resources: runtime.Resources{CPU: "1000"}})
	if err == nil || !strings.Contains(err.Error(), "unschedulable") || !strings.Contains(err.Error(), "Insufficient cpu") {
		t.Fatalf("Start of a pod no node can hold: %v; want the scheduler's reason", err)
	}
	pods, _ := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labelAgent + "=too-big"})
	secrets, _ := c.Client.CoreV1().Secrets(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labelAgent + "=too-big"})
	if len(pods.Items)+len(secrets.Items) != 0 {
		t.Errorf("the failed start left %d pods and %d secrets", len(pods.Items), len(secrets.Items))
	}
}

func testRecoverAdopts(t *testing.T, c *testcluster.Cluster) {
	host := hostInstance()
	first := New(testLogger(t))
	if err := first.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: host, Config: clusterConfigJSON(c, nil)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "sk-ant-FAKE-adoptee-0042"
	spec := runtime.Spec{ID: "adoptee", Argv: []string{"/bin/sh", "-c", `while IFS= read -r l; do echo "got:$l:end"; done`},
		Env: map[string]string{"ANTHROPIC_API_KEY": key}}
	if _, err := first.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// The plugin dies: its streams and watches go, the pod stays.
	a, err := first.agents.Get("adoptee")
	if err != nil {
		t.Fatal(err)
	}
	a.cancel()

	second := configured(t, c, host, nil)
	adopted, err := second.Recover(ctx)
	if err != nil || len(adopted) != 1 || adopted[0].ID != "adoptee" || adopted[0].State != runtime.StateRunning {
		t.Fatalf("Recover = %+v, %v; want the running agent", adopted, err)
	}
	// The host masks the agent's keys again from what the Secret keeps.
	if got := adopted[0].Env["ANTHROPIC_API_KEY"]; got != key {
		t.Errorf("adopted env ANTHROPIC_API_KEY = %q; want the agent's key", got)
	}
	conn, err := second.Attach(ctx, "adoptee")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var out strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var got string
	runtimetest.Eventually(t, time.Minute, "the adopted agent's terminal to answer", func() bool {
		if _, err := io.WriteString(conn, "after-restart\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		got = out.String()
		mu.Unlock()
		return strings.Contains(got, "got:after-restart:end")
	}, func() string { return fmt.Sprintf("output %q", got) })
	// No stray newline: the gate was open already.
	mu.Lock()
	got = out.String()
	mu.Unlock()
	if strings.Contains(got, "got::end") {
		t.Errorf("re-attaching sent the gate's newline again: %q", got)
	}
}

func testHealthPermissions(t *testing.T, c *testcluster.Cluster) {
	dir := t.TempDir()
	kubeconfig := dir + "/limited"
	if err := c.WriteKubeconfigFor(kubeconfig, c.LimitedToken); err != nil {
		t.Fatal(err)
	}
	r := New(testLogger(t))
	cfg := clusterConfigJSON(c, map[string]any{"kubeconfig": kubeconfig})
	if err := r.Configure(context.Background(), runtime.ConfigureRequest{HostInstance: hostInstance(), Config: cfg}); err != nil {
		t.Fatal(err)
	}
	h, err := r.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Healthy || !strings.Contains(h.Message, "create pods") || !strings.Contains(h.Message, "create pods/attach") || !strings.Contains(h.Message, "rbac.yaml") {
		t.Errorf("Health with a user RBAC denies: %+v; want unhealthy, naming what is missing", h)
	}
}
