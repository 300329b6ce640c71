package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/scrollback"
)

const (
	// apiCall bounds calls that clean up after an agent; they run on their
	// own deadline so a caller that gave up can't leave a pod behind.
	apiCall = time.Minute
	// drainMax bounds how long readers wait, after the pod finished, for
	// the rest of its output to come through the attach stream.
	drainMax = 5 * time.Second
)

// agent is one pod: running, or finished and not yet stopped. Its exit is
// recorded once the pod finished or is gone.
type agent struct {
	*agenttable.Agent
	name, namespace string
	log             hclog.Logger
	client          kubernetes.Interface
	rest            *rest.Config
	out             *scrollback.Ring

	// ctx lives as long as the agent; cancelling it ends the attach stream
	// and the watch.
	ctx    context.Context
	cancel context.CancelFunc

	stdin   *io.PipeWriter
	writeMu sync.Mutex
	sizes   chan sizeRequest

	streamDone chan struct{} // closed once the attach stream ended
}

func newAgent(r *Runtime, cfg Config, id, name string) *agent {
	ctx, cancel := context.WithCancel(context.Background())
	log := r.log.With("agent", id, "pod", name)
	return &agent{
		Agent:      agenttable.NewAgent(id, log),
		name:       name,
		namespace:  cfg.Namespace,
		log:        log,
		client:     r.client,
		rest:       r.rest,
		out:        scrollback.NewRing(cfg.ScrollbackBytes),
		ctx:        ctx,
		cancel:     cancel,
		sizes:      make(chan sizeRequest, 4),
		streamDone: make(chan struct{}),
	}
}

// waitRunning watches the pod until it runs. It fails with the pod's own
// reason when it can't: unschedulable (after waitUnschedulable), an image
// that can't be pulled, a pod that finished or was deleted first.
func (a *agent) waitRunning(ctx context.Context, waitUnschedulable time.Duration) (*corev1.Pod, error) {
	var unschedulableSince time.Time
	var last podState
	for {
		pod, err := a.watchPod(ctx, func(pod *corev1.Pod) bool {
			last = stateOf(pod)
			if last.running || last.exit != nil || last.fatal {
				return true
			}
			if last.problem != "" && pod != nil && isUnschedulable(pod) {
				if unschedulableSince.IsZero() {
					unschedulableSince = time.Now()
				}
				return time.Since(unschedulableSince) >= waitUnschedulable
			}
			return false
		})
		switch {
		case err != nil && ctx.Err() != nil:
			if last.problem != "" {
				return nil, fmt.Errorf("pod %s did not start: %s", a.name, last.problem)
			}
			return nil, fmt.Errorf("pod %s did not start: %w", a.name, ctx.Err())
		case err != nil:
			a.log.Debug("watching the pod failed; watching again", "error", err)
			time.Sleep(time.Second)
			continue
		case last.running:
			return pod, nil
		case last.exit != nil:
			return nil, fmt.Errorf("pod %s ended before it ran: %s", a.name, last.exit.Reason)
		case last.problem != "":
			return nil, fmt.Errorf("pod %s can't start: %s", a.name, last.problem)
		}
		if unschedulableSince.IsZero() {
			continue
		}
		// Unschedulable, but still within waitUnschedulable: look again.
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
}

func isUnschedulable(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// watchPod follows the pod until done says stop, and returns the pod last
// seen (nil once deleted). It ends with an error when the watch does.
func (a *agent) watchPod(ctx context.Context, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	pods := a.client.CoreV1().Pods(a.namespace)
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", a.name).String()})
	if err != nil {
		return nil, err
	}
	var pod *corev1.Pod
	if len(list.Items) > 0 {
		pod = &list.Items[0]
	}
	if done(pod) {
		return pod, nil
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", a.name).String(),
		ResourceVersion: list.ResourceVersion,
	})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return pod, errors.New("watch closed")
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if p, ok := ev.Object.(*corev1.Pod); ok {
					pod = p
				}
			case watch.Deleted:
				pod = nil
			case watch.Error:
				return pod, apierrors.FromObject(ev.Object)
			}
			if done(pod) {
				return pod, nil
			}
		case <-ctx.Done():
			return pod, ctx.Err()
		}
	}
}

// connect opens the attach stream through the API server: WebSocket
// first, SPDY for API servers or proxies that can't upgrade to it. Output
// goes to the ring. openGate sends the line the gate waits for.
func (a *agent) connect(openGate bool) error {
	req := a.client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(a.namespace).Name(a.name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: containerName, Stdin: true, Stdout: true, TTY: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(a.rest, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(a.rest, "POST", req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	stdinR, stdinW := io.Pipe()
	a.stdin = stdinW
	go func() {
		defer close(a.streamDone)
		err := exec.StreamWithContext(a.ctx, remotecommand.StreamOptions{
			Stdin: stdinR, Stdout: a.out, Tty: true, TerminalSizeQueue: sizeQueue{a},
		})
		if err != nil && a.ctx.Err() == nil {
			a.log.Warn("attach stream ended", "error", err)
		}
		stdinR.CloseWithError(io.ErrClosedPipe)
	}()
	if !openGate {
		return nil
	}
	// The pipe hands the line over only once the stream reads stdin, so
	// this returns after the attach is up.
	opened := make(chan error, 1)
	go func() { _, err := a.write([]byte("\n")); opened <- err }()
	select {
	case err := <-opened:
		if err != nil {
			return fmt.Errorf("opening the gate: %w", err)
		}
	case <-a.streamDone:
		return errors.New("the attach stream ended before it was up")
	case <-time.After(apiCall):
		return errors.New("the attach stream did not come up")
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, annotationGateOpen)
	ctx, cancel := context.WithTimeout(context.Background(), apiCall)
	defer cancel()
	if _, err := a.client.CoreV1().Pods(a.namespace).Patch(ctx, a.name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		a.log.Warn("cannot mark the gate open; a restarted plugin will send it another newline", "error", err)
	}
	return nil
}

// sizeRequest is a resize on its way to the stream; taken closes when
// the stream has it, or when a newer size replaced it.
type sizeRequest struct {
	size  remotecommand.TerminalSize
	taken chan struct{}
}

// sizeQueue feeds resizes to the stream.
type sizeQueue struct{ a *agent }

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case r := <-q.a.sizes:
		close(r.taken)
		return &r.size
	case <-q.a.ctx.Done():
		return nil
	}
}

// resize queues size for the stream and returns a channel closed once the
// stream took it. Only the newest size matters: older queued ones are
// dropped.
func (a *agent) resize(size runtime.Size) <-chan struct{} {
	r := sizeRequest{remotecommand.TerminalSize{Width: size.Cols, Height: size.Rows}, make(chan struct{})}
	for {
		select {
		case a.sizes <- r:
			return r.taken
		default:
			select {
			case old := <-a.sizes:
				close(old.taken)
			default:
			}
		}
	}
}

func (a *agent) write(p []byte) (int, error) {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	return a.stdin.Write(p)
}

// follow waits for the pod to finish, records how, lets readers drain.
func (a *agent) follow() {
	var last podState
	for {
		_, err := a.watchPod(a.ctx, func(pod *corev1.Pod) bool {
			last = stateOf(pod)
			return last.exit != nil
		})
		if err == nil || a.ctx.Err() != nil {
			break
		}
		a.log.Debug("watching the pod failed; watching again", "error", err)
		select {
		case <-time.After(time.Second):
		case <-a.ctx.Done():
		}
	}
	st := runtime.ExitStatus{Code: -1, Reason: "lost: released while its exit was unknown", ExitedAt: time.Now()}
	if last.exit != nil {
		st = *last.exit
	}
	a.ExitWith(func(reason string) runtime.ExitStatus {
		// Ours says more than the pod's plain end.
		if reason != "" && (st.Reason == "exited" || st.Reason == "lost: its pod was deleted") {
			if st.Reason != "exited" && reason == "killed" {
				// Force-deleted: the pod went at once, and the kubelet kills
				// what runs without reporting it.
				st.Signal = "SIGKILL"
			}
			st.Reason = reason
		}
		st.Reason = cmp.Or(st.Reason, "exited")
		return st
	})
	select {
	case <-a.streamDone:
	case <-time.After(drainMax):
	}
	a.out.Close()
	a.Drained()
}

// armDeadline stops the agent at deadline: the host-side twin of
// activeDeadlineSeconds, which only a kubelet enforces.
func (a *agent) armDeadline(deadline time.Time, grace time.Duration) {
	a.ArmDeadline(deadline, func() error { return a.terminate(context.Background(), grace, "timeout") })
}

// terminate deletes the pod with grace (0 kills at once) and returns once
// its exit is known.
func (a *agent) terminate(ctx context.Context, grace time.Duration, reason string) error {
	return a.Stopping(func() error {
		if a.HasExited() {
			return nil
		}
		a.SetReason(reason)
		if err := a.deletePod(grace); err != nil {
			return err
		}
		select {
		case <-a.Exited():
			return nil
		case <-time.After(grace + apiCall):
			return fmt.Errorf("pod %s is still there %v after it was deleted", a.name, grace+apiCall)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func (a *agent) deletePod(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), apiCall)
	defer cancel()
	// Whole seconds, rounded up: 0 means kill at once, which a short
	// grace must not become.
	secs := int64(math.Ceil(grace.Seconds()))
	err := a.client.CoreV1().Pods(a.namespace).Delete(ctx, a.name, metav1.DeleteOptions{GracePeriodSeconds: &secs})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", a.name, err)
	}
	return nil
}

// release frees what the agent holds once its pod finished: the stream,
// the watch, the pod and its secret.
func (a *agent) release(ctx context.Context) error {
	return a.Release(ctx, func() error {
		err := errors.Join(a.deletePod(0), deleteSecret(a.client, a.namespace, a.name))
		a.cancel()
		a.stdin.Close()
		a.out.Close()
		return err
	})
}

func deleteSecret(client kubernetes.Interface, namespace, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), apiCall)
	defer cancel()
	err := client.CoreV1().Secrets(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	return nil
}

// attach returns a new reader of the agent's output, starting at the
// oldest byte the ring still holds, whose writes are the agent's input.
func (a *agent) attach() *scrollback.Conn {
	return a.out.NewConn(func(n int64) {
		a.log.Debug("slow reader skipped output", "bytes", n)
	}, a.Input(a.write))
}
