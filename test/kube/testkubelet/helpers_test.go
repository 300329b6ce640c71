package testkubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/remotecommand"
)

const (
	testNode      = "kwok-node-0"
	testNamespace = "default"
	waitTimeout   = 10 * time.Second
)

// startKubelet starts a fake kubelet on a fake clientset and returns once
// it watches pods, so that no pod created after is missed (the fake
// clientset does not replay what happened between list and watch).
func startKubelet(t *testing.T, objects ...runtime.Object) (*Kubelet, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objects...)
	watching := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(watching) })
		return false, nil, nil
	})
	k := Start(t, client, Options{NodeName: testNode})
	select {
	case <-watching:
	case <-time.After(waitTimeout):
		t.Fatal("the kubelet never watched pods")
	}
	return k, client
}

// testPod is a pod as kwok leaves it once Running, bound to testNode, whose
// container runs argv on a tty.
func testPod(name string, argv ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: types.UID(name + "-uid")},
		Spec: corev1.PodSpec{
			NodeName:      testNode,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "agent", Image: "example.com/agent", Command: argv, Stdin: true, TTY: true,
			}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			PodIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "agent", Image: "example.com/agent", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
}

// createPod creates pod and waits for the kubelet to start its container.
func createPod(t *testing.T, k *Kubelet, client *fake.Clientset, pod *corev1.Pod) *container {
	t.Helper()
	if _, err := client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var c *container
	runtimetest.Eventually(t, waitTimeout, "the container to start", func() bool {
		c = k.container(pod.Namespace, pod.Name)
		return c != nil
	}, nil)
	return c
}

// waitExited waits for c's process to exit.
func waitExited(t *testing.T, c *container) {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(waitTimeout):
		t.Fatal("the container did not exit")
	}
}

// restConfig is a client config that trusts k's certificate.
func restConfig(k *Kubelet) *rest.Config {
	return &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", k.Port),
		TLSClientConfig: rest.TLSClientConfig{CAData: k.CertPEM},
	}
}

// httpClient is an HTTPS client that trusts k's certificate.
func httpClient(t *testing.T, k *Kubelet) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.CertPEM) {
		t.Fatal("bad CertPEM")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// attachURL is the URL the API server proxies pods/attach of a test pod
// to, with the query it writes for stdin, stdout and a tty.
func attachURL(k *Kubelet, pod string) *url.URL {
	return &url.URL{
		Scheme:   "https",
		Host:     fmt.Sprintf("127.0.0.1:%d", k.Port),
		Path:     fmt.Sprintf("/attach/%s/%s/agent", testNamespace, pod),
		RawQuery: "input=1&output=1&tty=1",
	}
}

// protocols are the ways client-go attaches: the API server speaks SPDY to
// a kubelet, and passes v5 WebSockets through when the node declares it.
var protocols = []struct {
	name string
	new  func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error)
}{
	{"spdy", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(cfg, "POST", u)
	}},
	{"websocket v5", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	}},
	{"websocket v4", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u.String(), "v4.channel.k8s.io")
	}},
}

// session is one attach from a client.
type session struct {
	stdin *io.PipeWriter
	out   *lockedBuffer
	sizes chan remotecommand.TerminalSize
	done  chan error // what StreamWithContext returned
}

// attach attaches to u with newExecutor, on a tty. The session ends when
// the test does, if not before.
func attach(t *testing.T, cfg *rest.Config, u *url.URL, newExecutor func(*rest.Config, *url.URL) (remotecommand.Executor, error)) *session {
	t.Helper()
	exec, err := newExecutor(cfg, u)
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW := io.Pipe()
	s := &session{
		stdin: stdinW,
		out:   &lockedBuffer{},
		sizes: make(chan remotecommand.TerminalSize, 10),
		done:  make(chan error, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		s.done <- exec.StreamWithContext(ctx, remotecommand.StreamOptions{
			Stdin: stdin, Stdout: s.out, Tty: true, TerminalSizeQueue: s,
		})
	}()
	t.Cleanup(func() {
		// Ending stdin ends the attach, except with WebSocket v4, which
		// cannot half-close a stream: then the connection is dropped.
		stdinW.Close()
		close(s.sizes)
		select {
		case <-s.done:
		case <-time.After(time.Second):
			cancel()
			select {
			case <-s.done:
			case <-time.After(waitTimeout):
				t.Error("the attach did not end")
			}
		}
		cancel()
	})
	return s
}

// Next implements remotecommand.TerminalSizeQueue.
func (s *session) Next() *remotecommand.TerminalSize {
	size, ok := <-s.sizes
	if !ok {
		return nil
	}
	return &size
}

// waitOutput waits for the session to have received want.
func (s *session) waitOutput(t *testing.T, want string) {
	t.Helper()
	runtimetest.Eventually(t, waitTimeout, fmt.Sprintf("output %q", want),
		func() bool { return strings.Contains(s.out.String(), want) },
		func() string { return fmt.Sprintf("%q", s.out.String()) })
}

// lockedBuffer is an output sink safe to read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
