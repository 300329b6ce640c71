package testkubelet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// waitTerminated waits for the pod's status to say its container ended.
func waitTerminated(t *testing.T, client *fake.Clientset, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	runtimetest.Eventually(t, waitTimeout, "the pod to end", func() bool {
		var err error
		pod, err = client.CoreV1().Pods(testNamespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	}, nil)
	return pod
}

func TestExitLandsInPodStatus(t *testing.T) {
	k, client := startKubelet(t)
	tests := []struct {
		name   string
		argv   []string
		phase  corev1.PodPhase
		code   int32
		reason string
		signal int32
	}{
		{"success", []string{"true"}, corev1.PodSucceeded, 0, "Completed", 0},
		{"failure", []string{"sh", "-c", "exit 3"}, corev1.PodFailed, 3, "Error", 0},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, corev1.PodFailed, 143, "Error", 15},
		{"no such command", []string{"/nonexistent/agent"}, corev1.PodFailed, 128, "StartError", 0},
		{"no command", nil, corev1.PodFailed, 128, "StartError", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			createPod(t, k, client, testPod(name, tt.argv...))
			pod := waitTerminated(t, client, name)

			if pod.Status.Phase != tt.phase {
				t.Errorf("phase %s, want %s", pod.Status.Phase, tt.phase)
			}
			cs := pod.Status.ContainerStatuses[0]
			term := cs.State.Terminated
			switch {
			case term == nil:
				t.Fatalf("container state %+v, want terminated", cs.State)
			case term.ExitCode != tt.code || term.Reason != tt.reason || term.Signal != tt.signal:
				t.Errorf("terminated with code %d, reason %q, signal %d; want %d, %q, %d",
					term.ExitCode, term.Reason, term.Signal, tt.code, tt.reason, tt.signal)
			case term.FinishedAt.IsZero():
				t.Error("no finishedAt")
			}
			if cs.Ready {
				t.Error("container still ready")
			}
			for _, cond := range pod.Status.Conditions {
				if cond.Status != corev1.ConditionFalse {
					t.Errorf("condition %s is %s, want False", cond.Type, cond.Status)
				}
			}
			if pod.Status.PodIP == "" {
				t.Error("the pod IP is gone; kwok would start the pod over")
			}
		})
	}
}

func TestEnv(t *testing.T) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "creds"},
		Data:       map[string][]byte{"token": []byte("s3cret")},
	}
	k, client := startKubelet(t, secret)

	fromSecret := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional,
		}}
	}
	tests := []struct {
		name    string
		env     []corev1.EnvVar
		print   string // a shell word to print
		want    string // the output, or what the start error says
		wantErr bool
	}{
		{"literal", []corev1.EnvVar{{Name: "A", Value: "plain"}}, "$A", "plain", false},
		{"secret", []corev1.EnvVar{{Name: "A", ValueFrom: fromSecret("creds", "token", false)}}, "$A", "s3cret", false},
		{"later wins", []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}}, "$A", "2", false},
		{"default TERM", nil, "$TERM", "xterm", false},
		{"TERM as given", []corev1.EnvVar{{Name: "TERM", Value: "xterm-256color"}}, "$TERM", "xterm-256color", false},
		{"optional missing secret", []corev1.EnvVar{{Name: "A", ValueFrom: fromSecret("nope", "token", true)}}, "${A-unset}", "unset", false},
		{"optional missing key", []corev1.EnvVar{{Name: "A", ValueFrom: fromSecret("creds", "nope", true)}}, "${A-unset}", "unset", false},
		{"missing secret", []corev1.EnvVar{{Name: "A", ValueFrom: fromSecret("nope", "token", false)}}, "$A", "not found", true},
		{"missing key", []corev1.EnvVar{{Name: "A", ValueFrom: fromSecret("creds", "nope", false)}}, "$A", `no key "nope"`, true},
		{"unsupported source", []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
		}}}, "$A", "only valueFrom.secretKeyRef", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			pod := testPod(name, "sh", "-c", `printf '%s' "`+tt.print+`"`)
			pod.Spec.Containers[0].Env = tt.env
			c := createPod(t, k, client, pod)
			waitExited(t, c)

			if tt.wantErr {
				term := waitTerminated(t, client, name).Status.ContainerStatuses[0].State.Terminated
				if term.Reason != "StartError" || !strings.Contains(term.Message, tt.want) {
					t.Errorf("terminated with %q: %q; want StartError: ...%s...", term.Reason, term.Message, tt.want)
				}
				return
			}
			if got := string(c.out.snapshot()); got != tt.want {
				t.Errorf("printed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDeleteStopsContainer(t *testing.T) {
	k, client := startKubelet(t)
	pods := client.CoreV1().Pods(testNamespace)
	ctx := context.Background()
	deleteNow := func(t *testing.T, pod *corev1.Pod) {
		if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// markDeleted is what the API server does for a graceful delete: the
	// pod stays, with a deletionTimestamp, until the kubelet removes it.
	markDeleted := func(t *testing.T, pod *corev1.Pod) {
		now := metav1.Now()
		grace := int64(1)
		pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, &grace
		if _, err := pods.Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		argv    []string
		delete  func(*testing.T, *corev1.Pod)
		killed  bool // whether it takes SIGKILL after the grace period
		removes bool // whether the kubelet removes the pod
	}{
		{"deleted, stops on SIGTERM", []string{"sh", "-c", "echo ready; sleep 1000"}, deleteNow, false, false},
		{"deleted, ignores SIGTERM", []string{"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"}, deleteNow, true, false},
		{"deletion timestamp", []string{"sh", "-c", "echo ready; sleep 1000"}, markDeleted, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			name = strings.ReplaceAll(name, ",", "")
			pod := testPod(name, tt.argv...)
			grace := int64(1) // minGracePeriod applies
			pod.Spec.TerminationGracePeriodSeconds = &grace
			c := createPod(t, k, client, pod)
			runtimetest.Eventually(t, waitTimeout, "the container to be ready", func() bool { return strings.Contains(string(c.out.snapshot()), "ready") }, nil)

			start := time.Now()
			tt.delete(t, pod)
			waitExited(t, c)
			took := time.Since(start)

			if tt.killed && took < minGracePeriod {
				t.Errorf("killed after %v, before the grace period", took)
			}
			if !tt.killed && took >= minGracePeriod {
				t.Errorf("took %v to stop on SIGTERM", took)
			}
			waitGroupGone(t, c.cmd.Process.Pid)
			if tt.removes {
				runtimetest.Eventually(t, waitTimeout, "the pod to be removed", func() bool {
					_, err := pods.Get(ctx, name, metav1.GetOptions{})
					return apierrors.IsNotFound(err)
				}, nil)
			}
		})
	}
}

func TestCleanupKillsContainers(t *testing.T) {
	var pid int
	t.Run("kubelet", func(t *testing.T) {
		k, client := startKubelet(t)
		c := createPod(t, k, client, testPod("sleeper", "sleep", "1000"))
		pid = c.cmd.Process.Pid
	})
	waitGroupGone(t, pid)
}

// waitGroupGone waits for every process of the group pgid to be dead.
// Killed processes take a moment to die.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	runtimetest.Eventually(t, waitTimeout, "the container's processes to die", func() bool { return !groupAlive(t, pgid) }, nil)
}

// groupAlive reports whether a process of the group pgid is alive. Dead
// orphans count as gone: they stay zombies until init reaps them, which
// some inits do only now and then.
func groupAlive(t *testing.T, pgid int) bool {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process is gone
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) >= 3 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

func TestGracePeriod(t *testing.T) {
	seconds := func(n int64) *int64 { return &n }
	tests := []struct {
		name          string
		spec, deleted *int64
		want          time.Duration
	}{
		{"default, bounded", nil, nil, maxGracePeriod},
		{"from the spec", seconds(2), nil, 2 * time.Second},
		{"from the deletion", seconds(60), seconds(2), 2 * time.Second},
		{"zero gets the minimum", nil, seconds(0), minGracePeriod},
		{"long, bounded", seconds(600), nil, maxGracePeriod},
	}
	for _, tt := range tests {
		pod := &corev1.Pod{}
		pod.Spec.TerminationGracePeriodSeconds = tt.spec
		pod.DeletionGracePeriodSeconds = tt.deleted
		if got := gracePeriod(pod); got != tt.want {
			t.Errorf("%s: gracePeriod = %v, want %v", tt.name, got, tt.want)
		}
	}
}
