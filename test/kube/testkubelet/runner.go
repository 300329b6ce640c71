package testkubelet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

const (
	// minGracePeriod is the kubelet's floor for a container's grace period,
	// even when its pod is deleted with a grace period of 0.
	minGracePeriod = 2 * time.Second
	// maxGracePeriod keeps a test from waiting the default 30 s for a
	// process that ignores SIGTERM.
	maxGracePeriod = 3 * time.Second
)

// onPod starts a pod's first container once the pod is Running, and stops
// it once the pod is being deleted.
func (k *Kubelet) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != k.nodeName || len(pod.Spec.Containers) == 0 {
		return
	}
	c := k.container(pod.Namespace, pod.Name)
	if c != nil && c.uid != pod.UID {
		// A new pod under the name of an old one: the old one is gone.
		c.terminate(0)
		c = nil
	}
	switch {
	case pod.DeletionTimestamp != nil:
		if c != nil {
			c.terminate(gracePeriod(pod))
		}
	case c == nil && pod.Status.Phase == corev1.PodRunning:
		k.run(pod)
	}
}

// onPodDeleted stops the container of a pod deleted before it was seen
// with a deletionTimestamp (as when kwok deletes it at once).
func (k *Kubelet) onPodDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if c := k.container(pod.Namespace, pod.Name); c != nil && c.uid == pod.UID {
		c.terminate(gracePeriod(pod))
	}
}

// gracePeriod is how long a deleted pod's container gets between SIGTERM
// and SIGKILL: the pod's own, bounded as described at minGracePeriod and
// maxGracePeriod.
func gracePeriod(pod *corev1.Pod) time.Duration {
	seconds := int64(corev1.DefaultTerminationGracePeriodSeconds)
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		seconds = *pod.DeletionGracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		seconds = *pod.Spec.TerminationGracePeriodSeconds
	}
	return min(max(time.Duration(seconds)*time.Second, minGracePeriod), maxGracePeriod)
}

// run starts the pod's first container, and a goroutine that reports its
// exit in the pod status. A container that cannot start is reported as
// exited at once: there are no restarts here.
func (k *Kubelet) run(pod *corev1.Pod) {
	spec := pod.Spec.Containers[0]
	c := newContainer(pod, logLimit)
	startErr := k.start(c, pod, spec)

	k.mu.Lock()
	k.containers[pod.Namespace+"/"+pod.Name] = c
	k.all = append(k.all, c)
	k.wg.Add(1)
	k.mu.Unlock()

	go func() {
		defer k.wg.Done()
		var term corev1.ContainerStateTerminated
		if startErr != nil {
			k.t.Logf("testkubelet: pod %s/%s: %v", pod.Namespace, pod.Name, startErr)
			c.failed()
			// What a runtime reports when it cannot start the process.
			term = corev1.ContainerStateTerminated{
				ExitCode:   128,
				Reason:     "StartError",
				Message:    startErr.Error(),
				FinishedAt: metav1.Now(),
			}
		} else {
			term = c.wait()
		}
		k.reportExit(pod, spec, term)
	}()
}

// start runs the container's command in a working directory of its own
// (the image's paths do not exist here).
func (k *Kubelet) start(c *container, pod *corev1.Pod, spec corev1.Container) error {
	if len(spec.Command) == 0 {
		return errors.New("container has no command, and the fake kubelet cannot read an image's entrypoint")
	}
	dir, err := os.MkdirTemp(k.dir, pod.Name+"-")
	if err != nil {
		return err
	}
	env, err := k.env(pod, spec, dir)
	if err != nil {
		return err
	}
	argv := append(slices.Clone(spec.Command), spec.Args...)
	return c.start(argv, env, dir)
}

// env builds the container's environment: what the image and the runtime
// would give it, then the container's env. Later entries win.
func (k *Kubelet) env(pod *corev1.Pod, spec corev1.Container, home string) ([]string, error) {
	if len(spec.EnvFrom) > 0 {
		return nil, errors.New("envFrom is not supported by the fake kubelet")
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), // stands in for the image's PATH
		"HOSTNAME=" + pod.Name,
		"HOME=" + home,
	}
	if spec.TTY {
		env = append(env, "TERM=xterm") // containerd's default for a tty
	}
	for _, e := range spec.Env {
		value := e.Value
		if e.ValueFrom != nil {
			v, ok, err := k.secretValue(pod.Namespace, e.ValueFrom)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			if !ok {
				continue // an optional reference to nothing
			}
			value = v
		}
		if e.Name == "HOME" && filepath.IsAbs(value) {
			// The image's filesystem does not exist here, and pods must
			// not share this machine's homes: re-root the pod's HOME
			// (like /home/agent) in the container's own directory.
			value = filepath.Join(home, value)
		}
		env = append(env, e.Name+"="+value)
	}
	return env, nil
}

// secretValue resolves a valueFrom.secretKeyRef. ok is false when an
// optional secret or key does not exist.
func (k *Kubelet) secretValue(namespace string, from *corev1.EnvVarSource) (value string, ok bool, err error) {
	ref := from.SecretKeyRef
	if ref == nil {
		return "", false, errors.New("only valueFrom.secretKeyRef is supported by the fake kubelet")
	}
	optional := ref.Optional != nil && *ref.Optional
	secret, err := k.client.CoreV1().Secrets(namespace).Get(k.ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && optional:
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	data, ok := secret.Data[ref.Key]
	if !ok && !optional {
		return "", false, fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
	}
	return string(data), ok, nil
}

// reportExit records the container's end in the pod status, as a kubelet
// does, and then finishes the pod's deletion if it is being deleted.
func (k *Kubelet) reportExit(pod *corev1.Pod, spec corev1.Container, term corev1.ContainerStateTerminated) {
	pods := k.client.CoreV1().Pods(pod.Namespace)
	deleting := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(k.ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return nil // the pod is gone and another has its name
		}
		deleting = cur.DeletionTimestamp != nil
		setTerminated(&cur.Status, spec, term)
		_, err = pods.UpdateStatus(k.ctx, cur, metav1.UpdateOptions{})
		return err
	})
	switch {
	case k.ctx.Err() != nil, apierrors.IsNotFound(err):
		return // the test is over, or the pod is gone already
	case err != nil:
		k.t.Errorf("testkubelet: pod %s/%s: update status: %v", pod.Namespace, pod.Name, err)
		return
	}
	if !deleting {
		return
	}
	// A kubelet removes a deleted pod once its containers are gone. kwok's
	// pod-delete stage may have done it already; then this finds nothing.
	zero := int64(0)
	err = pods.Delete(k.ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && k.ctx.Err() == nil {
		k.t.Errorf("testkubelet: pod %s/%s: delete: %v", pod.Namespace, pod.Name, err)
	}
}

// setTerminated writes a container's end into a pod status the way a
// kubelet does for a pod that does not restart its containers.
//
// The pod IP stays, as with a kubelet. kwok depends on it: its pod-create
// stage matches any pod without status.podIP, whatever its phase, and would
// turn the pod back to Pending.
func setTerminated(status *corev1.PodStatus, spec corev1.Container, term corev1.ContainerStateTerminated) {
	status.Phase = corev1.PodSucceeded
	if term.ExitCode != 0 {
		status.Phase = corev1.PodFailed
	}

	i := slices.IndexFunc(status.ContainerStatuses, func(cs corev1.ContainerStatus) bool {
		return cs.Name == spec.Name
	})
	if i < 0 {
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{Name: spec.Name, Image: spec.Image})
		i = len(status.ContainerStatuses) - 1
	}
	started := false
	cs := &status.ContainerStatuses[i]
	cs.State = corev1.ContainerState{Terminated: &term}
	cs.Ready = false
	cs.Started = &started

	for i := range status.Conditions {
		cond := &status.Conditions[i]
		if (cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady) && cond.Status != corev1.ConditionFalse {
			cond.Status = corev1.ConditionFalse
			cond.Reason = "PodCompleted"
			cond.Message = ""
			cond.LastTransitionTime = metav1.Now()
		}
	}
}
