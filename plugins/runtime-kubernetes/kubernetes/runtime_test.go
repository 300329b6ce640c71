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
	r.host, r.client, r.rest, r.configured = "host-1", client, &rest.Config{Host: "https://127.0.0.1:1"}, true
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
