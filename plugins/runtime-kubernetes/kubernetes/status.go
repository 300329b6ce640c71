package kubernetes

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/parallax/parallax/sdk/runtime"
)

// podState is what a pod says about its agent.
type podState struct {
	running bool
	// exit is set once the pod finished or is gone.
	exit *runtime.ExitStatus
	// problem is why a pending pod can't start, for the user: unschedulable,
	// an image that can't be pulled, a broken secret reference.
	problem string
	// fatal says the problem won't go away by waiting.
	fatal bool
}

// waitingFatal are container waiting reasons that waiting won't fix.
var waitingFatal = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// stateOf maps a pod to its agent's state. A nil pod was deleted.
func stateOf(pod *corev1.Pod) podState {
	if pod == nil {
		return podState{exit: &runtime.ExitStatus{Code: -1, Reason: "lost: its pod was deleted", ExitedAt: time.Now()}}
	}
	switch pod.Status.Phase {
	case corev1.PodRunning:
		return podState{running: true}
	case corev1.PodSucceeded, corev1.PodFailed:
		return podState{exit: exitOf(pod)}
	}
	// Pending, or Unknown: say what holds it up.
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return podState{problem: "unschedulable: " + c.Message}
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			msg := w.Reason
			if w.Message != "" {
				msg += ": " + w.Message
			}
			return podState{problem: msg, fatal: waitingFatal[w.Reason]}
		}
	}
	return podState{}
}

// exitOf reads how a finished pod's agent ended.
func exitOf(pod *corev1.Pod) *runtime.ExitStatus {
	st := &runtime.ExitStatus{Code: -1, Reason: "exited", ExitedAt: time.Now()}
	if pod.Status.Reason == "DeadlineExceeded" {
		// activeDeadlineSeconds: the kubelet killed it.
		st.Reason = "timeout"
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != containerName || cs.State.Terminated == nil {
			continue
		}
		t := cs.State.Terminated
		st.Code = int(t.ExitCode)
		if !t.FinishedAt.IsZero() {
			st.ExitedAt = t.FinishedAt.Time
		}
		if t.Signal != 0 {
			st.Code = -1
			st.Signal = signalName(int(t.Signal))
		} else if t.ExitCode > 128 && t.ExitCode < 160 {
			// Runtimes report a signal death as 128+n.
			st.Code = -1
			st.Signal = signalName(int(t.ExitCode - 128))
		}
		if t.Reason == "OOMKilled" {
			st.Reason = "killed: out of memory"
		}
		return st
	}
	if pod.Status.Phase == corev1.PodFailed && st.Reason == "exited" {
		st.Reason = strings.TrimSpace(fmt.Sprintf("failed %s %s", pod.Status.Reason, pod.Status.Message))
	}
	return st
}

var signalNames = map[int]string{1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 15: "SIGTERM"}

func signalName(n int) string {
	if s, ok := signalNames[n]; ok {
		return s
	}
	return fmt.Sprintf("signal %d", n)
}
