package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/parallax/parallax/sdk/runtime"
)

// fakeRuntime is a configured Runtime on client-go's fake clientset: no
// API server, so nothing that attaches; for the logic around the objects.
func fakeRuntime(t *testing.T, client *fake.Clientset) *Runtime {
	t.Helper()
	r := New(nil)
	r.cfg = testConfig(t, `{"start_timeout": "30s"}`)
	r.host, r.client, r.rest = "host-1", client, &rest.Config{Host: "https://127.0.0.1:1"}
	r.agents.Open()
	return r
}

// setPodStatus waits for the one pod in ns and gives it status.
func setPodStatus(t *testing.T, client *fake.Clientset, status corev1.PodStatus) {
	t.Helper()
	ctx := context.Background()
	for {
		pods, err := client.CoreV1().Pods("agents").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 1 {
			pod := pods.Items[0]
			pod.Status = status
			if _, err := client.CoreV1().Pods("agents").UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartFailsWithThePodsReason(t *testing.T) {
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient cpu.",
		}}}, "unschedulable: 0/3 nodes are available: 3 Insufficient cpu."},
		{"image", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied for nope"}},
		}}}, "ErrImagePull: pull access denied for nope"},
		{"ended first", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}, "ended before it ran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			r := fakeRuntime(t, client)
			go setPodStatus(t, client, tt.status)
			_, err := r.Start(context.Background(), runtime.Spec{ID: "a1", Argv: []string{"claude"}, Env: map[string]string{"K": "v"}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v; want the pod's reason %q", err, tt.want)
			}
			pods, _ := client.CoreV1().Pods("agents").List(context.Background(), metav1.ListOptions{})
			secrets, _ := client.CoreV1().Secrets("agents").List(context.Background(), metav1.ListOptions{})
			if len(pods.Items)+len(secrets.Items) != 0 {
				t.Errorf("a failed start left %d pods and %d secrets", len(pods.Items), len(secrets.Items))
			}
			if _, err := r.Inspect(context.Background(), "a1"); err == nil {
				t.Error("a failed start left the agent known")
			}
		})
	}
}
