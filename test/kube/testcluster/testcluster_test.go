package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

func TestOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Options
		want Options
	}{
		{"zero", Options{}, Options{KubeletPort: 10250, Namespace: "parallax"}},
		{"port kept", Options{KubeletPort: 12345}, Options{KubeletPort: 12345, Namespace: "parallax"}},
		{"namespace kept", Options{Namespace: "ns"}, Options{KubeletPort: 10250, Namespace: "ns"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("withDefaults() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCluster starts one cluster and checks what the runtime-kubernetes
// tests rely on, each in a subtest.
func TestCluster(t *testing.T) {
	// Not the default port, to see the option reach the node.
	kubeletPort := freePort(t)
	c := Start(t, Options{KubeletPort: kubeletPort, Namespace: "testcluster"})

	t.Run("node points the API server at the fake kubelet", func(t *testing.T) {
		n, err := c.Client.CoreV1().Nodes().Get(context.Background(), NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodeReady(n, kubeletPort); err != nil {
			t.Error(err)
		}
		if got := n.Status.Allocatable.Cpu().String(); got != "32" {
			t.Errorf("allocatable cpu = %s, want 32", got)
		}
		if got := n.Labels[NodeLabel]; got != NodeLabelValue {
			t.Errorf("label %s = %q, want %q", NodeLabel, got, NodeLabelValue)
		}
	})

	t.Run("pod with a tty runs on the kwok node", func(t *testing.T) {
		pod := newPod("tty", "100m")
		pod.Spec.NodeSelector = map[string]string{NodeLabel: NodeLabelValue}
		createPod(t, c, pod)
		got := waitPod(t, c, pod.Name, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning
		})
		if got.Spec.NodeName != NodeName {
			t.Errorf("pod runs on %q, want %q", got.Spec.NodeName, NodeName)
		}
	})

	t.Run("API server reaches a kubelet on the node port", func(t *testing.T) {
		pod := newPod("logs", "100m")
		createPod(t, c, pod)
		waitPod(t, c, pod.Name, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning
		})
		got := make(chan string, 1)
		serveKubelet(t, c, kubeletPort, func(w http.ResponseWriter, r *http.Request) {
			select {
			case got <- r.TLS.PeerCertificates[0].Subject.CommonName + " " + r.URL.Path:
			default:
			}
			fmt.Fprint(w, "fake kubelet\n")
		})
		body, err := c.Client.CoreV1().Pods(c.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
		if err != nil {
			t.Fatalf("pod logs: %v", err)
		}
		if string(body) != "fake kubelet\n" {
			t.Errorf("pod logs = %q, want the fake kubelet's answer", body)
		}
		want := "kube-apiserver-kubelet-client /containerLogs/" + c.Namespace + "/logs/agent"
		if req := <-got; req != want {
			t.Errorf("the kubelet got %q, want %q", req, want)
		}
	})

	t.Run("deleted pod goes away", func(t *testing.T) {
		// No kubelet confirms the end of a running pod's containers; kwok
		// must, or a graceful delete would leave the pod Terminating.
		pod := newPod("deleted", "100m")
		createPod(t, c, pod)
		waitPod(t, c, pod.Name, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning
		})
		pods := c.Client.CoreV1().Pods(c.Namespace)
		if err := pods.Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true,
			func(ctx context.Context) (bool, error) {
				_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, nil
				}
				return false, err
			})
		if err != nil {
			t.Fatalf("pod %s is still there after its delete: %v", pod.Name, err)
		}
	})

	t.Run("pod too big for the node is unschedulable", func(t *testing.T) {
		pod := newPod("too-big", "1000")
		createPod(t, c, pod)
		got := waitPod(t, c, pod.Name, "PodScheduled=False", func(p *corev1.Pod) bool {
			return scheduledCondition(p) != nil && scheduledCondition(p).Status == corev1.ConditionFalse
		})
		cond := scheduledCondition(got)
		if cond.Reason != corev1.PodReasonUnschedulable {
			t.Errorf("PodScheduled reason = %q, want %q", cond.Reason, corev1.PodReasonUnschedulable)
		}
		// For want of CPU, not for some other reason such as a taint.
		if !strings.Contains(cond.Message, "Insufficient cpu") {
			t.Errorf("PodScheduled message = %q, want it to say Insufficient cpu", cond.Message)
		}
		if got.Spec.NodeName != "" {
			t.Errorf("pod was bound to %q", got.Spec.NodeName)
		}
	})

	t.Run("RBAC", func(t *testing.T) {
		for _, tc := range []struct {
			name          string
			token         string
			wantForbidden bool
		}{
			{"limited token may not create pods", c.LimitedToken, true},
			{"admin token may", c.Token, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				client, err := kubernetes.NewForConfig(c.ConfigFor(tc.token))
				if err != nil {
					t.Fatal(err)
				}
				pod := newPod(fmt.Sprintf("rbac-%t", tc.wantForbidden), "100m")
				_, err = client.CoreV1().Pods(c.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
				switch {
				case tc.wantForbidden && !apierrors.IsForbidden(err):
					t.Errorf("create pod: err = %v, want 403 Forbidden", err)
				case !tc.wantForbidden && err != nil:
					t.Errorf("create pod: %v", err)
				}
			})
		}
	})
}

// serveKubelet serves handler on 127.0.0.1:port over TLS until the test
// ends, as a kubelet would: only to clients with a certificate from the
// cluster's CA.
func serveKubelet(t *testing.T, c *Cluster, port int, handler http.HandlerFunc) {
	t.Helper()
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificate in %s", c.CAFile)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: cas}
	srv.StartTLS()
	t.Cleanup(srv.Close)
}

// newPod is a pod like the ones runtime-kubernetes makes: one container
// with a terminal and stdin. kwok pulls and runs nothing, so the image is
// only a name.
func newPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:    "agent",
				Image:   "busybox",
				Command: []string{"sh"},
				Stdin:   true,
				TTY:     true,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
				},
			}},
		},
	}
}

func createPod(t *testing.T, c *Cluster, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.Client.CoreV1().Pods(c.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

// waitPod polls pod name until done says yes. The deadline is generous:
// this checks what happens, not how fast.
func waitPod(t *testing.T, c *Cluster, name, what string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			p, err := c.Client.CoreV1().Pods(c.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			last = p
			return done(p), nil
		})
	if err != nil {
		t.Fatalf("pod %s never got %s (%v); last status: %+v", name, what, err, statusOf(last))
	}
	return last
}

func statusOf(p *corev1.Pod) any {
	if p == nil {
		return nil
	}
	return p.Status
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
