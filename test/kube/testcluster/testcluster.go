package testcluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtimetest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// NodeName is the one node, played by kwok.
	NodeName = "kwok-node-0"
	// NodeLabel and NodeLabelValue are a label NodeName has, for pods to
	// select it by.
	NodeLabel      = "type"
	NodeLabelValue = "kwok"

	// kwokAnnotation marks the nodes kwok plays; it leaves others alone.
	kwokAnnotation = "kwok.x-k8s.io/node"
	kwokValue      = "fake"

	defaultKubeletPort = 10250
	defaultNamespace   = "parallax"

	// How long Start waits for everything after the API server's start.
	// Generous: two cores may be busy with other tests, and a slow start
	// is no failure. Nothing here asserts on time.
	upTimeout = 3 * time.Minute
)

// Options shape the cluster. The zero value is the usual one.
type Options struct {
	// KubeletPort is where the API server reaches the node's kubelet, on
	// 127.0.0.1, for attach, exec and logs. 0 means 10250.
	KubeletPort int
	// Namespace is created with its "default" service account (there is
	// no controller-manager to make it). "" means "parallax".
	Namespace string
	// KubeletDeletesPods leaves deleted pods to the node's kubelet, as in
	// a real cluster: kwok would otherwise remove them at once, before a
	// kubelet could report how their containers ended. Set it when a
	// fake kubelet (testkubelet) runs the node.
	KubeletDeletesPods bool
}

func (o Options) withDefaults() Options {
	if o.KubeletPort == 0 {
		o.KubeletPort = defaultKubeletPort
	}
	if o.Namespace == "" {
		o.Namespace = defaultNamespace
	}
	return o
}

// Cluster is a running control plane. It stops at the test's cleanup.
type Cluster struct {
	// Server is the API server's URL, https://127.0.0.1:<port>.
	Server string
	// Kubeconfig is the path of a kubeconfig file for the admin, whose
	// context's namespace is Namespace.
	Kubeconfig string
	// Config and Client are the admin's.
	Config *rest.Config
	Client kubernetes.Interface
	// Token is the admin's bearer token (group system:masters).
	Token string
	// LimitedToken is the bearer token of a user "limited" in no group and
	// bound to no role: RBAC denies it nearly everything.
	LimitedToken string
	// Namespace is Options.Namespace, created.
	Namespace string
	// KubeletPort is Options.KubeletPort, defaulted.
	KubeletPort int
	// CAFile is the PEM of the CA that signed the API server's serving
	// certificate and the client certificate it presents to kubelets.
	CAFile string
}

// WriteKubeconfigFor writes a kubeconfig for c that authenticates with
// token, such as LimitedToken.
func (c *Cluster) WriteKubeconfigFor(path, token string) error {
	return writeKubeconfig(path, c.Server, c.CAFile, token, c.Namespace)
}

// ConfigFor returns a copy of Config that authenticates with token instead
// of the admin's.
func (c *Cluster) ConfigFor(token string) *rest.Config {
	cfg := rest.CopyConfig(c.Config)
	cfg.BearerToken = token
	return cfg
}

// Start runs a cluster for t: etcd, kube-apiserver, kube-scheduler and kwok
// with one Ready node, NodeName, and returns when all are up. It skips t if
// the binaries are missing (fails it under CI=true).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts = opts.withDefaults()
	bins := findBinaries(t)
	began := time.Now()
	dir := t.TempDir()

	c := &Cluster{
		Token:        newToken(),
		LimitedToken: newToken(),
		Namespace:    opts.Namespace,
		KubeletPort:  opts.KubeletPort,
		Kubeconfig:   filepath.Join(dir, "kubeconfig"),
	}
	pki, err := writePKI(dir, c.Token, c.LimitedToken)
	if err != nil {
		t.Fatal(err)
	}
	c.CAFile = pki.caCert

	etcd := startEtcd(t, dir)
	port := freePort(t)
	c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	apiserver := startAPIServer(t, dir, bins.apiserver, pki, etcd, port)

	if err := writeKubeconfig(c.Kubeconfig, c.Server, pki.caCert, c.Token, c.Namespace); err != nil {
		t.Fatal(err)
	}
	// Read back from the file, so the tests use the kubeconfig they hand
	// on to others.
	c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Tests create and poll many objects; client-side throttling would
	// only slow them down.
	c.Config.QPS, c.Config.Burst = 100, 200
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.Client = client

	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	waitFor(t, ctx, "the API server to be ready", []*process{apiserver}, func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})

	scheduler, schedulerPort := startScheduler(t, dir, bins.scheduler, c.Kubeconfig)
	kwok := startKwok(t, dir, bins, c.Kubeconfig, opts.KubeletPort, opts.KubeletDeletesPods)

	if err := createNamespace(ctx, client, c.Namespace); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node(), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", NodeName, err)
	}
	all := []*process{apiserver, scheduler, kwok}
	waitFor(t, ctx, "the scheduler to be ready", all, func(ctx context.Context) error {
		return schedulerReady(ctx, schedulerPort)
	})
	waitFor(t, ctx, "kwok to make node "+NodeName+" Ready", all, func(ctx context.Context) error {
		n, err := client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return nodeReady(n, opts.KubeletPort)
	})
	t.Logf("testcluster: up at %s in %s", c.Server, time.Since(began).Round(time.Millisecond))
	return c
}

// waitFor calls check until it returns nil, failing the test at ctx's
// deadline or as soon as one of procs exits. Each attempt gets at most
// 10 s, so one hung request does not use up the wait.
func waitFor(t testing.TB, ctx context.Context, what string, procs []*process, check func(context.Context) error) {
	t.Helper()
	deadline, _ := ctx.Deadline()
	var err error
	runtimetest.Eventually(t, time.Until(deadline), what, func() bool {
		for _, p := range procs {
			p.failIfExited(t)
		}
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err = check(attempt)
		return err == nil
	}, func() string { return fmt.Sprint(err) })
}

func writeKubeconfig(path, server, caFile, token, namespace string) error {
	const name = "parallax-testcluster"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: adminUser, Namespace: namespace}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

// createNamespace creates namespace ns and its "default" service account,
// which the API server's ServiceAccount admission requires of every pod and
// which only the controller-manager would otherwise create.
func createNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	_, err = client.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s/default: %w", ns, err)
	}
	return nil
}

// node is the node kwok plays. A node's status may be set at creation (a
// kubelet registers this way); kwok keeps the allocatable it finds there.
func node() *corev1.Node {
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{kwokAnnotation: kwokValue},
			Labels: map[string]string{
				NodeLabel:                NodeLabelValue,
				"kubernetes.io/hostname": NodeName,
				"kubernetes.io/os":       "linux",
			},
		},
		Status: corev1.NodeStatus{Allocatable: resources, Capacity: resources},
	}
}

// nodeReady says why n is not yet the Ready node the API server can reach
// a kubelet on, at 127.0.0.1:port; nil when it is.
func nodeReady(n *corev1.Node, port int) error {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return errors.New("node not Ready")
	}
	ip := ""
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	if ip != "127.0.0.1" {
		return fmt.Errorf("node's InternalIP is %q, not 127.0.0.1", ip)
	}
	if got := n.Status.DaemonEndpoints.KubeletEndpoint.Port; int(got) != port {
		return fmt.Errorf("node's kubelet port is %d, not %d", got, port)
	}
	return nil
}
