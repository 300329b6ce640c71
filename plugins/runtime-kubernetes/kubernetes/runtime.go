package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/agenttable"
	"github.com/parallax/parallax/sdk/runtime/configblock"
)

// Version is the plugin's version.
const Version = "0.1.0"

var defaultSize = runtime.Size{Cols: 80, Rows: 24}

// Runtime runs agents as pods.
type Runtime struct {
	log hclog.Logger

	// mu guards what Configure sets before it opens agents.
	mu     sync.Mutex
	cfg    Config
	host   string // HostInstance as given
	rest   *rest.Config
	client kubernetes.Interface

	agents agenttable.Table[*agent]
}

var (
	_ runtime.Runtime       = (*Runtime)(nil)
	_ runtime.Resizer       = (*Runtime)(nil)
	_ runtime.StatsReporter = (*Runtime)(nil)
	_ runtime.Adopter       = (*Runtime)(nil)
)

// New returns an unconfigured runtime that logs to log.
func New(log hclog.Logger) *Runtime {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runtime{log: log}
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "kubernetes",
		Version:         Version,
		DefaultPriority: 30,
		// Requests equal limits, enforced by the kubelet; the deadline is
		// activeDeadlineSeconds plus a timer here.
		Capabilities: runtime.Capabilities{CPULimit: true, MemoryLimit: true, Timeout: true},
		ConfigSchema: configblock.Schema(new(Config).attrs()),
		AgentPaths:   runtime.AgentPaths{Home: agentHome, Workdir: workspace},
	}, nil
}

// Configure decodes the config and makes the client. It doesn't contact
// the cluster: one that is down makes the runtime unhealthy, not
// misconfigured.
func (r *Runtime) Configure(_ context.Context, req runtime.ConfigureRequest) error {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return err
	}
	if req.HostInstance == "" {
		return fmt.Errorf("%w: host instance is empty", runtime.ErrInvalidSpec)
	}
	if err := checkLabelValue("host instance", req.HostInstance); err != nil {
		return fmt.Errorf("%w: %v", runtime.ErrInvalidSpec, err)
	}
	restCfg, namespace, err := clusterConfig(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", runtime.ErrInvalidSpec, err)
	}
	cfg.Namespace = cmp.Or(cfg.Namespace, namespace, "default")
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("%w: %v", runtime.ErrInvalidSpec, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg, r.host, r.rest, r.client = cfg, req.HostInstance, restCfg, client
	r.agents.Open()
	r.log.Info("configured", "server", restCfg.Host, "namespace", cfg.Namespace)
	return nil
}

// clusterConfig loads the client config and the context's namespace.
func clusterConfig(cfg Config) (*rest.Config, string, error) {
	if cfg.InCluster {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("in_cluster: %v", err)
		}
		return c, "", nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	c, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %v; set config attribute \"kubeconfig\" to a kubeconfig file, or \"in_cluster = true\" when the host runs in a pod", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		ns = ""
	}
	return c, ns, nil
}

// needed is what the runtime does in its namespace, for Health to check.
var needed = []authorizationv1.ResourceAttributes{
	{Verb: "create", Resource: "pods"},
	{Verb: "get", Resource: "pods"},
	{Verb: "list", Resource: "pods"},
	{Verb: "watch", Resource: "pods"},
	{Verb: "delete", Resource: "pods"},
	{Verb: "patch", Resource: "pods"},
	{Verb: "create", Resource: "pods", Subresource: "attach"},
	{Verb: "create", Resource: "secrets"},
	{Verb: "update", Resource: "secrets"},
	{Verb: "delete", Resource: "secrets"},
	{Verb: "list", Resource: "secrets"},
}

// Health checks that the API server answers and that we may do what we
// need in the namespace, naming what is missing.
func (r *Runtime) Health(ctx context.Context) (runtime.Health, error) {
	cfg, client, err := r.ready()
	if err != nil {
		return runtime.Health{}, err
	}
	var missing []string
	for _, attrs := range needed {
		attrs.Namespace = cfg.Namespace
		review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}},
			metav1.CreateOptions{})
		if err != nil {
			return runtime.Health{Healthy: false, Message: fmt.Sprintf("Kubernetes API server at %s: %v", r.rest.Host, err)}, nil
		}
		if !review.Status.Allowed {
			what := attrs.Resource
			if attrs.Subresource != "" {
				what += "/" + attrs.Subresource
			}
			missing = append(missing, attrs.Verb+" "+what)
		}
	}
	if len(missing) > 0 {
		return runtime.Health{Healthy: false, Message: fmt.Sprintf(
			"not allowed in namespace %q: %s; grant them to the host's user or service account (examples/kubernetes/rbac.yaml)",
			cfg.Namespace, strings.Join(missing, ", "))}, nil
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, cfg.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return runtime.Health{Healthy: false, Message: fmt.Sprintf("namespace %q does not exist; create it or set config attribute \"namespace\"", cfg.Namespace)}, nil
	}
	return runtime.Health{Healthy: true, Message: fmt.Sprintf("namespace %q on %s", cfg.Namespace, r.rest.Host), ActiveAgents: r.agents.Active()}, nil
}

func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.AgentInfo, error) {
	cfg, client, err := r.ready()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	secret, pod, err := objects(cfg, r.host, spec, time.Now())
	if err != nil {
		return runtime.AgentInfo{}, fmt.Errorf("%w: %v", runtime.ErrInvalidSpec, err)
	}
	return r.agents.Start(spec.ID, func() (*agent, error) { return r.launch(ctx, cfg, client, spec, secret, pod) })
}

// launch creates the secret and the pod, waits for it to run, attaches and
// opens the gate.
func (r *Runtime) launch(ctx context.Context, cfg Config, client kubernetes.Interface, spec runtime.Spec, secret *corev1.Secret, pod *corev1.Pod) (*agent, error) {
	secrets, pods := client.CoreV1().Secrets(cfg.Namespace), client.CoreV1().Pods(cfg.Namespace)
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return nil, createError("secret", secret.Name, spec.ID, err)
	}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		_ = deleteSecret(client, cfg.Namespace, secret.Name)
		return nil, createError("pod", pod.Name, spec.ID, err)
	}
	a := newAgent(r, cfg, spec.ID, pod.Name)
	a.Labels, a.Env = spec.Labels, maps.Clone(spec.Env)
	fail := func(err error) (*agent, error) {
		a.cancel()
		_ = a.deletePod(0)
		_ = deleteSecret(client, cfg.Namespace, secret.Name)
		return nil, err
	}
	// Owned by the pod, so a cluster's garbage collector removes the
	// secret with it even when we can't.
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: created.Name, UID: created.UID}}
	if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		a.log.Warn("cannot make the pod own its secret; it is deleted with the agent all the same", "error", err)
	}

	waitCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	running, err := a.waitRunning(waitCtx, cfg.WaitUnschedulable)
	if err != nil {
		return fail(err)
	}
	a.StartedAt = startTime(running)
	size := spec.Size
	if size.Cols == 0 || size.Rows == 0 {
		size = defaultSize
	}
	a.resize(size)
	if err := a.connect(true); err != nil {
		return fail(fmt.Errorf("attach to pod %s: %w", pod.Name, err))
	}
	go a.follow()
	var deadline time.Time
	if spec.Resources.Timeout > 0 {
		deadline = time.Now().Add(spec.Resources.Timeout)
	}
	a.armDeadline(deadline, cfg.DefaultStopTimeout)
	a.log.Info("agent started", "image", pod.Spec.Containers[0].Image, "node", running.Spec.NodeName)
	return a, nil
}

func startTime(pod *corev1.Pod) time.Time {
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return time.Now()
}

func createError(kind, name, id string, err error) error {
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%w: %q: %s %s exists already", runtime.ErrAlreadyExists, id, kind, name)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return fmt.Errorf("%w: the API server refused the %s: %v", runtime.ErrInvalidSpec, kind, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("create %s %s: %v; see examples/kubernetes/rbac.yaml for the permissions the host needs", kind, name, err)
	}
	return fmt.Errorf("create %s %s: %w", kind, name, err)
}

func (r *Runtime) Attach(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return nil, err
	}
	return a.attach(), nil
}

func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	return r.agents.Stop(id, func(a *agent) error {
		grace, reason := cmp.Or(max(opts.Timeout, 0), r.cfg.DefaultStopTimeout), "stopped"
		if opts.Force {
			grace, reason = 0, "killed"
		}
		if err := a.terminate(ctx, grace, reason); err != nil {
			return err
		}
		return a.release(ctx)
	})
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	return r.agents.Wait(ctx, id)
}

func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.AgentInfo, error) {
	return r.agents.Inspect(id)
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) {
	return r.agents.List()
}

func (r *Runtime) Resize(ctx context.Context, id string, size runtime.Size) error {
	return r.agents.Resize(id, size, func(a *agent) error {
		// The stream applies the size apart from the input: wait until it has
		// it, so what is typed next meets the new size. The kubelet may still
		// apply the two in either order; this closes most of that window.
		select {
		case <-a.resize(size):
		case <-a.Exited():
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
}

// ready returns the configuration and client, or ErrNotConfigured.
func (r *Runtime) ready() (Config, kubernetes.Interface, error) {
	if err := r.agents.Ready(); err != nil {
		return Config{}, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg, r.client, nil
}
