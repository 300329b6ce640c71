package testkubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/parallax/parallax/test/kube/testcluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// logLimit is how much of a container's output containerLogs keeps.
const logLimit = 1 << 20

// Kubelet is a running fake kubelet for one node.
type Kubelet struct {
	// Port is the HTTPS port on 127.0.0.1 to put in the node's
	// status.daemonEndpoints.kubeletEndpoint.Port.
	Port int
	// CertPEM is the server's self-signed certificate, for clients that
	// verify it. The API server does not, unless told to.
	CertPEM []byte

	t        testing.TB
	client   kubernetes.Interface
	nodeName string
	dir      string // parent of the containers' working directories
	ctx      context.Context

	mu         sync.Mutex
	containers map[string]*container // by "namespace/name"
	all        []*container          // every container started, for Cleanup
	wg         sync.WaitGroup        // goroutines that report a container's exit
}

// Options configure a fake kubelet. The zero value is the usual one.
type Options struct {
	// NodeName is the node whose pods it runs. "" means "kwok-node-0",
	// the node of testcluster.
	NodeName string
	// Port is the port it serves on, on 127.0.0.1: the node's kubelet
	// port. 0 picks a free one, which Kubelet.Port then tells.
	Port int
	// Listener, if set, is served instead of a new listener on Port. It
	// lets a test hold a free port from before it starts the cluster with
	// that port as the node's kubelet port, with no one else taking it in
	// between. It is closed at the end.
	Listener net.Listener
}

// Start starts a fake kubelet for the node: it runs the pods the scheduler
// binds to the node once they are Running (kwok sets that), and serves
// attach and containerLogs for them over HTTPS on 127.0.0.1. Everything is
// stopped, and every process killed, when the test ends.
func Start(t testing.TB, client kubernetes.Interface, opts Options) *Kubelet {
	t.Helper()
	if opts.NodeName == "" {
		opts.NodeName = "kwok-node-0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kubelet{
		t:          t,
		client:     client,
		nodeName:   opts.NodeName,
		dir:        t.TempDir(), // removed after our Cleanup has killed the processes
		ctx:        ctx,
		containers: make(map[string]*container),
	}

	cert, certPEM, err := selfSignedCert()
	if err != nil {
		t.Fatalf("testkubelet: %v", err)
	}
	k.CertPEM = certPEM
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)))
		if err != nil {
			t.Fatalf("testkubelet: %v", err)
		}
	}
	k.Port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{
		Handler: k.routes(),
		// Attach upgrades the connection, which needs HTTP/1.1. Offering
		// only that keeps clients (and the API server) from picking HTTP/2.
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("testkubelet: serve: %v", err)
		}
	}()

	// Only this node's pods, as a kubelet asks for. The fake clientset
	// ignores field selectors, so onPod checks the node again.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
		}))
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.onPod,
		UpdateFunc: func(_, obj any) { k.onPod(obj) },
		DeleteFunc: k.onPodDeleted,
	}); err != nil {
		t.Fatalf("testkubelet: %v", err)
	}
	factory.Start(ctx.Done())

	t.Cleanup(func() {
		// Stop the watch first, so that no container starts after this.
		cancel()
		factory.Shutdown()
		k.mu.Lock()
		all := k.all
		k.mu.Unlock()
		for _, c := range all {
			c.signal(syscall.SIGKILL)
		}
		// The exit reporters skip the status update: ctx is cancelled.
		k.wg.Wait()
		for _, c := range all {
			c.closePTY()
		}
		// Attaches have ended with their containers; this closes the rest.
		srv.Close()
	})

	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("testkubelet: %v informer did not sync", typ)
		}
	}
	return k
}

// container returns the container started for the pod namespace/name, or nil.
func (k *Kubelet) container(namespace, name string) *container {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.containers[namespace+"/"+name]
}

// StartCluster starts a test cluster (see testcluster.Start) whose node
// this fake kubelet runs, and which deletes pods as a kubelet would. It
// skips the test where the Kubernetes binaries are missing.
func StartCluster(t testing.TB) *testcluster.Cluster {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, testcluster.Options{KubeletPort: l.Addr().(*net.TCPAddr).Port, KubeletDeletesPods: true})
	Start(t, c.Client, Options{Listener: l})
	return c
}
