package kubernetes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/parallax/parallax/sdk/runtime"
)

// Version is the plugin's version.
const Version = "0.1.0"

var defaultSize = runtime.Size{Cols: 80, Rows: 24}

// Runtime runs agents as pods.
type Runtime struct {
	log hclog.Logger

	mu         sync.Mutex
	configured bool
	cfg        Config
	host       string // HostInstance as given
	rest       *rest.Config
	client     kubernetes.Interface
	// agents by id; a nil entry is an id reserved by a Start in progress.
	agents map[string]*agent
	// recovering keeps Starts out while Recover sweeps pods.
	recovering sync.RWMutex
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
	return &Runtime{log: log, agents: make(map[string]*agent)}
}

func (r *Runtime) Describe(context.Context) (runtime.Info, error) {
	return runtime.Info{
		Name:            "kubernetes",
		Version:         Version,
		DefaultPriority: 30,
		// Requests equal limits, enforced by the kubelet; the deadline is
		// activeDeadlineSeconds plus a timer here.
		Capabilities: runtime.Capabilities{CPULimit: true, MemoryLimit: true, Timeout: true},
		ConfigSchema: slices.Clone(configSchema),
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
	r.cfg, r.host, r.rest, r.client, r.configured = cfg, req.HostInstance, restCfg, client, true
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
	return runtime.Health{Healthy: true, Message: fmt.Sprintf("namespace %q on %s", cfg.Namespace, r.rest.Host), ActiveAgents: r.active()}, nil
}

// active counts the agents whose pods run.
func (r *Runtime) active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.agents {
		if a != nil && !a.hasExited() {
			n++
		}
	}
	return n
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
	r.recovering.RLock()
	defer r.recovering.RUnlock()
	r.mu.Lock()
	if _, ok := r.agents[spec.ID]; ok {
		r.mu.Unlock()
		return runtime.AgentInfo{}, fmt.Errorf("%w: %q", runtime.ErrAlreadyExists, spec.ID)
	}
	r.agents[spec.ID] = nil
	r.mu.Unlock()

	a, err := r.launch(ctx, cfg, client, spec, secret, pod)
	r.mu.Lock()
	if err != nil {
		delete(r.agents, spec.ID)
	} else {
		r.agents[spec.ID] = a
	}
	r.mu.Unlock()
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info(), nil
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
	a.labels = spec.Labels
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

	waitCtx, cancel := context.WithTimeout(ctx, time.Duration(cfg.StartTimeout))
	defer cancel()
	running, err := a.waitRunning(waitCtx, time.Duration(cfg.WaitUnschedulable))
	if err != nil {
		return fail(err)
	}
	a.startedAt = startTime(running)
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
	a.armDeadline(deadline, time.Duration(cfg.DefaultStopTimeout))
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
	a, err := r.get(id)
	if err != nil {
		return nil, err
	}
	return a.attach(), nil
}

func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	grace := opts.Timeout
	if grace <= 0 {
		grace = time.Duration(r.cfg.DefaultStopTimeout)
	}
	reason := "stopped"
	if opts.Force {
		grace, reason = 0, "killed"
	}
	if err := a.terminate(ctx, grace, reason); err != nil {
		return fmt.Errorf("stop %q: %w", id, err)
	}
	if err := a.release(ctx); err != nil {
		return fmt.Errorf("stop %q: %w", id, err)
	}
	r.mu.Lock()
	if r.agents[id] == a {
		delete(r.agents, id)
	}
	r.mu.Unlock()
	a.log.Info("agent stopped")
	return nil
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	select {
	case <-a.exited:
		return *a.info().Exit, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.AgentInfo, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.AgentInfo{}, err
	}
	return a.info(), nil
}

func (r *Runtime) List(context.Context) ([]runtime.AgentInfo, error) {
	if _, _, err := r.ready(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	infos := make([]runtime.AgentInfo, 0, len(r.agents))
	for _, a := range r.agents {
		if a != nil {
			infos = append(infos, a.info())
		}
	}
	r.mu.Unlock()
	slices.SortFunc(infos, func(x, y runtime.AgentInfo) int {
		return cmp.Or(x.StartedAt.Compare(y.StartedAt), strings.Compare(x.ID, y.ID))
	})
	return infos, nil
}

func (r *Runtime) Resize(ctx context.Context, id string, size runtime.Size) error {
	a, err := r.get(id)
	if err != nil {
		return err
	}
	if size.Cols == 0 || size.Rows == 0 {
		return fmt.Errorf("%w: size %dx%d: columns and rows must be positive", runtime.ErrInvalidSpec, size.Cols, size.Rows)
	}
	// The stream applies the size apart from the input: wait until it has
	// it, so what is typed next meets the new size. The kubelet may still
	// apply the two in either order; this closes most of that window.
	select {
	case <-a.resize(size):
	case <-a.exited:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Stats reads the metrics API. Without metrics-server there is none, and
// the stats are unavailable rather than zero.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	a, err := r.get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	raw, err := a.client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", a.namespace, "pods", a.name).DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		// Unavailable, not zero: the host shows no figures.
		return runtime.Stats{}, fmt.Errorf("%w: stats of pod %s: the cluster serves no metrics API (install metrics-server), or has no sample of the pod yet", runtime.ErrUnsupported, a.name)
	}
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("stats of pod %s: %w", a.name, err)
	}
	return podStats(raw, a.info().StartedAt)
}

// podStats reads a PodMetrics object of the metrics API.
func podStats(raw []byte, startedAt time.Time) (runtime.Stats, error) {
	var m struct {
		Containers []struct {
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return runtime.Stats{}, fmt.Errorf("reading pod metrics: %w", err)
	}
	var st runtime.Stats
	for _, c := range m.Containers {
		// Usage comes as quantities like "1234567n" (nanocores) and "20Mi".
		if cpu, err := resource.ParseQuantity(c.Usage["cpu"]); err == nil {
			st.CPUPercent += float64(cpu.ScaledValue(resource.Nano)) / 1e7
		}
		if mem, err := resource.ParseQuantity(c.Usage["memory"]); err == nil && mem.Value() > 0 {
			st.MemoryBytes += uint64(mem.Value())
		}
	}
	if !startedAt.IsZero() {
		st.Uptime = time.Since(startedAt)
	}
	return st, nil
}

// Recover reports the running pods of this host instance for adoption
// and deletes the finished or expired ones, with their secrets.
func (r *Runtime) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	cfg, client, err := r.ready()
	if err != nil {
		return nil, err
	}
	r.recovering.Lock()
	defer r.recovering.Unlock()
	selector := labels.SelectorFromSet(labels.Set{labelManaged: "true", labelHostInstance: r.host}).String()
	pods, err := client.CoreV1().Pods(cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list our pods: %w", err)
	}
	var adopted []runtime.AgentInfo
	live := map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		id := pod.Labels[labelAgent]
		st := stateOf(pod)
		deadline, _ := time.Parse(time.RFC3339Nano, pod.Annotations[annotationDeadline])
		expired := !deadline.IsZero() && time.Now().After(deadline)
		r.mu.Lock()
		_, known := r.agents[id]
		r.mu.Unlock()
		switch {
		case known:
			live[pod.Name] = true
		case st.running && !expired && pod.DeletionTimestamp == nil:
			a := newAgent(r, cfg, id, pod.Name)
			a.labels, a.startedAt = specLabelsOf(pod), startTime(pod)
			if err := a.connect(pod.Annotations[annotationGateOpen] != "true"); err != nil {
				a.cancel()
				r.log.Warn("cannot re-attach to a running pod; leaving it", "pod", pod.Name, "error", err)
				continue
			}
			go a.follow()
			a.armDeadline(deadline, time.Duration(cfg.DefaultStopTimeout))
			r.mu.Lock()
			r.agents[id] = a
			r.mu.Unlock()
			live[pod.Name] = true
			info := a.info()
			// The Secret is where the env, keys included, is kept; the host
			// needs it to mask the agent's keys after its own restart.
			if info.Env, err = secretEnv(ctx, client, cfg.Namespace, pod.Name); err != nil {
				r.log.Warn("cannot read the adopted pod's Secret; the host will not know its keys", "pod", pod.Name, "error", err)
			}
			adopted = append(adopted, info)
			r.log.Info("adopted a running pod", "agent", id, "pod", pod.Name)
		case st.running || st.exit != nil || expired:
			r.log.Info("removing a finished or expired pod", "agent", id, "pod", pod.Name)
			a := newAgent(r, cfg, id, pod.Name)
			if err := errors.Join(a.deletePod(0), deleteSecret(client, cfg.Namespace, pod.Name)); err != nil {
				r.log.Warn("cannot remove pod", "pod", pod.Name, "error", err)
			}
			a.cancel()
		default:
			// Pending: a Start of the plugin that died may have made it;
			// nobody waits on it now.
			a := newAgent(r, cfg, id, pod.Name)
			_ = errors.Join(a.deletePod(0), deleteSecret(client, cfg.Namespace, pod.Name))
			a.cancel()
		}
	}
	// Secrets whose pod is gone.
	secrets, err := client.CoreV1().Secrets(cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err == nil {
		// No Start runs during Recover, so every secret without a live
		// pod is left over.
		for _, s := range secrets.Items {
			if !live[s.Name] {
				_ = deleteSecret(client, cfg.Namespace, s.Name)
			}
		}
	}
	return adopted, nil
}

// secretEnv returns the env an agent's Secret holds, without the seed of
// its home, which is no env of the agent's own.
func secretEnv(ctx context.Context, client kubernetes.Interface, namespace, name string) (map[string]string, error) {
	s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(s.Data))
	for k, v := range s.Data {
		if k != homeSeedEnv {
			env[k] = string(v)
		}
	}
	return env, nil
}

// ready returns the configuration and client, or ErrNotConfigured.
func (r *Runtime) ready() (Config, kubernetes.Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return Config{}, nil, runtime.ErrNotConfigured
	}
	return r.cfg, r.client, nil
}

func (r *Runtime) get(id string) (*agent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return nil, runtime.ErrNotConfigured
	}
	a := r.agents[id]
	if a == nil {
		return nil, fmt.Errorf("%w: %q", runtime.ErrNotFound, id)
	}
	return a, nil
}
