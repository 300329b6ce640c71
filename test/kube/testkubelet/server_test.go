package testkubelet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/remotecommand"
)

func TestAttach(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			k, client := startKubelet(t)
			cfg := restConfig(k)

			t.Run("echo round trip", func(t *testing.T) {
				c := createPod(t, k, client, testPod("echo", "cat"))
				s := attach(t, cfg, attachURL(k, c.pod), p.new)
				if _, err := io.WriteString(s.stdin, "hello\n"); err != nil {
					t.Fatal(err)
				}
				// The terminal echoes the line, then cat writes it back.
				s.waitOutput(t, "hello\r\nhello\r\n")
			})

			t.Run("resize reaches the terminal", func(t *testing.T) {
				c := createPod(t, k, client, testPod("resize", "sh", "-c", "while read line; do stty size; done"))
				s := attach(t, cfg, attachURL(k, c.pod), p.new)
				s.sizes <- remotecommand.TerminalSize{Width: 123, Height: 45}
				// The size and the input travel on different streams, so
				// ask again until the new size shows.
				runtimetest.Eventually(t, waitTimeout, "stty to see 45 rows, 123 columns", func() bool {
					if strings.Contains(s.out.String(), "45 123") {
						return true
					}
					if _, err := io.WriteString(s.stdin, "\n"); err != nil {
						t.Fatal(err)
					}
					return false
				}, func() string { return fmt.Sprintf("output %q", s.out.String()) })
			})

			t.Run("two attaches both see the output", func(t *testing.T) {
				c := createPod(t, k, client, testPod("two", "cat"))
				first := attach(t, cfg, attachURL(k, c.pod), p.new)
				second := attach(t, cfg, attachURL(k, c.pod), p.new)
				runtimetest.Eventually(t, waitTimeout, "both attaches", func() bool { return c.out.followerCount() == 2 }, nil)
				if _, err := io.WriteString(first.stdin, "ping\n"); err != nil {
					t.Fatal(err)
				}
				first.waitOutput(t, "ping\r\nping\r\n")
				second.waitOutput(t, "ping\r\nping\r\n")
			})

			t.Run("exit ends the attach", func(t *testing.T) {
				c := createPod(t, k, client, testPod("exit", "sh", "-c", "read line; echo bye"))
				s := attach(t, cfg, attachURL(k, c.pod), p.new)
				if _, err := io.WriteString(s.stdin, "go\n"); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-s.done:
					if err != nil {
						t.Fatalf("attach ended with %v", err)
					}
					s.done <- nil // for the session's cleanup
				case <-time.After(waitTimeout):
					t.Fatal("the attach did not end with the container")
				}
				if !strings.Contains(s.out.String(), "bye") {
					t.Errorf("output %q lacks the last words", s.out.String())
				}
			})

			t.Run("exited container", func(t *testing.T) {
				c := createPod(t, k, client, testPod("exited", "true"))
				waitExited(t, c)
				exec, err := p.new(cfg, attachURL(k, c.pod))
				if err != nil {
					t.Fatal(err)
				}
				err = exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{
					Stdin: strings.NewReader(""), Stdout: io.Discard, Tty: true,
				})
				if err == nil {
					t.Fatal("attached to an exited container")
				}
			})
		})
	}
}

// A client attaches as soon as it sees the pod Running, which kwok may
// report before this kubelet has started the process.
func TestAttachWaitsForStart(t *testing.T) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "creds"},
		Data:       map[string][]byte{"token": []byte("s3cret")},
	}
	k, client := startKubelet(t, secret)
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(300 * time.Millisecond) // holds the start back
		return false, nil, nil
	})
	pod := testPod("slow", "cat")
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"},
	}}}
	if _, err := client.CoreV1().Pods(testNamespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	s := attach(t, restConfig(k), attachURL(k, "slow"), protocols[0].new)
	if _, err := io.WriteString(s.stdin, "hi\n"); err != nil {
		t.Fatal(err)
	}
	s.waitOutput(t, "hi\r\nhi\r\n")
}

func TestServesWhereTold(t *testing.T) {
	freePort := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	listener := func(t *testing.T) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	tests := []struct {
		name string
		opts func(*testing.T) Options
	}{
		{"a free port", func(*testing.T) Options { return Options{} }},
		{"a given port", func(t *testing.T) Options { return Options{Port: freePort(t)} }},
		{"a given listener", func(t *testing.T) Options { return Options{Listener: listener(t)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts(t)
			k := Start(t, fake.NewClientset(), opts)
			switch {
			case opts.Port != 0 && k.Port != opts.Port:
				t.Errorf("serves on %d, not on the given %d", k.Port, opts.Port)
			case opts.Listener != nil && k.Port != opts.Listener.Addr().(*net.TCPAddr).Port:
				t.Errorf("serves on %d, not on the given listener's port", k.Port)
			}
			resp, err := httpClient(t, k).Get(fmt.Sprintf("https://127.0.0.1:%d/containerLogs/a/b/c", k.Port))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("got %d, want 404", resp.StatusCode)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	k, client := startKubelet(t)
	createPod(t, k, client, testPod("p", "sleep", "1000"))
	pending := testPod("pending", "sleep", "1000")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending}
	if _, err := client.CoreV1().Pods(testNamespace).Create(context.Background(), pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown path", "GET", "/exec/default/p/agent?output=1", http.StatusNotFound},
		{"root", "GET", "/", http.StatusNotFound},
		{"unknown pod", "POST", "/attach/default/nope/agent?output=1", http.StatusNotFound},
		{"other container", "POST", "/attach/default/p/sidecar?output=1", http.StatusNotFound},
		{"other uid", "POST", "/attach/default/p/other-uid/agent?output=1", http.StatusNotFound},
		{"no streams", "POST", "/attach/default/p/p-uid/agent", http.StatusBadRequest},
		{"pending pod", "POST", "/attach/default/pending/agent?output=1", http.StatusBadRequest},
		{"logs of unknown pod", "GET", "/containerLogs/default/nope/agent", http.StatusNotFound},
		{"logs of pending pod", "GET", "/containerLogs/default/pending/agent", http.StatusBadRequest},
		{"previous logs", "GET", "/containerLogs/default/p/agent?previous=true", http.StatusBadRequest},
		{"bad tailLines", "GET", "/containerLogs/default/p/agent?tailLines=x", http.StatusBadRequest},
		{"logs", "GET", "/containerLogs/default/p/agent", http.StatusOK},
	}
	hc := httpClient(t, k)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, fmt.Sprintf("https://127.0.0.1:%d%s", k.Port, tt.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s: got %d (%q), want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestContainerLogs(t *testing.T) {
	k, client := startKubelet(t)
	c := createPod(t, k, client, testPod("logs", "printf", `a\nb\nc\n`))
	waitExited(t, c)
	hc := httpClient(t, k)

	// The terminal turns each \n into \r\n.
	tests := []struct {
		name, query, want string
	}{
		{"everything", "", "a\r\nb\r\nc\r\n"},
		{"tailLines", "tailLines=2", "b\r\nc\r\n"},
		{"no lines", "tailLines=0", ""},
		{"more lines than there are", "tailLines=10", "a\r\nb\r\nc\r\n"},
		{"limitBytes", "limitBytes=4", "a\r\nb"},
		{"tailLines and limitBytes", "tailLines=2&limitBytes=1", "b"},
		{"follow an exited container", "follow=true", "a\r\nb\r\nc\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := getLogs(t, hc, k, c, tt.query)
			if got != tt.want {
				t.Errorf("logs?%s = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestContainerLogsFollow(t *testing.T) {
	k, client := startKubelet(t)
	c := createPod(t, k, client, testPod("follow", "sh", "-c", "echo one; read line; echo two"))
	runtimetest.Eventually(t, waitTimeout, "the first line", func() bool { return strings.Contains(string(c.out.snapshot()), "one") }, nil)

	hc := httpClient(t, k)
	got := make(chan string, 1)
	go func() { got <- getLogs(t, hc, k, c, "follow=true") }()
	runtimetest.Eventually(t, waitTimeout, "the log to follow", func() bool { return c.out.followerCount() == 1 }, nil)
	if _, err := c.pty.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case logs := <-got:
		if want := "one\r\ngo\r\ntwo\r\n"; logs != want {
			t.Errorf("followed logs = %q, want %q", logs, want)
		}
	case <-time.After(waitTimeout):
		t.Fatal("following the logs did not end with the container")
	}
}

// getLogs gets c's logs with the query the API server passes on.
func getLogs(t *testing.T, hc *http.Client, k *Kubelet, c *container, query string) string {
	t.Helper()
	u := fmt.Sprintf("https://127.0.0.1:%d/containerLogs/%s/%s/%s?%s", k.Port, c.namespace, c.pod, c.name, query)
	resp, err := hc.Get(u)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d %q %v", u, resp.StatusCode, body, err)
	}
	return string(body)
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 0, ""},
		{"", 3, ""},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 4, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		if got := string(lastLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
