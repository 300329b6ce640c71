package kubernetes

import (
	"fmt"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/configblock"
)

// Config is the runtime's config {} block, decoded.
type Config struct {
	// Kubeconfig and Context pick the cluster; InCluster uses the pod's
	// service account instead.
	Kubeconfig string
	Context    string
	InCluster  bool
	Namespace  string

	Images           map[string]string
	DefaultImage     string
	ImagePullPolicy  string
	ImagePullSecrets []string
	ServiceAccount   string
	NodeSelector     map[string]string
	Tolerations      []Toleration

	DefaultCPU    string
	DefaultMemory string
	Labels        map[string]string
	Annotations   map[string]string

	// WorkdirPVC, when set, is mounted at /workspace instead of an
	// emptyDir.
	WorkdirPVC string

	// WaitUnschedulable is how long an unschedulable pod may wait for room
	// (a cluster autoscaler adding a node) before its start fails.
	WaitUnschedulable time.Duration
	// StartTimeout bounds the wait for a pod to run, image pulls included.
	StartTimeout       time.Duration
	DefaultStopTimeout time.Duration
	ScrollbackBytes    int
}

// Toleration is a pod toleration as written in HCL.
type Toleration struct {
	Key      string
	Operator string
	Value    string
	Effect   string
}

// attrs declares the config {} block, decoding into c.
func (c *Config) attrs() []configblock.Attr {
	return []configblock.Attr{
		{Name: "kubeconfig", Type: "string", Description: `Path of the kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.`,
			Decode: configblock.String(&c.Kubeconfig, `a path like "/home/me/.kube/config"`)},
		{Name: "context", Type: "string", Description: `Kubeconfig context to use. Default: the file's current context.`,
			Decode: configblock.String(&c.Context, `a context name like "prod"`)},
		{Name: "in_cluster", Type: "bool", Description: `Use the service account of the pod the host runs in, instead of a kubeconfig. Default false.`,
			Decode: configblock.Bool(&c.InCluster)},
		{Name: "namespace", Type: "string", Description: `Namespace of agent pods and their secrets. Default: the context's namespace, else "default".`,
			Decode: configblock.Value(&c.Namespace, `a namespace like "agents"`, func(s string) (string, error) {
				if s == "" {
					return s, nil
				}
				if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
					return "", fmt.Errorf("%q: %s", s, strings.Join(errs, "; "))
				}
				return s, nil
			})},
		{Name: "images", Type: "map(string)", Description: `Image per agent type, like { claude = "registry/agent-claude:latest" }. Default: parallax/agent-<type>:latest (see make images).`,
			Decode: configblock.Map(&c.Images, `a map of agent type to image, like { claude = "registry/agent-claude:latest" }`,
				func(typ, img string) error {
					if strings.TrimSpace(img) == "" {
						return fmt.Errorf("the image for %q is empty; give an image or leave %q out", typ, typ)
					}
					return nil
				})},
		{Name: "default_image", Type: "string", Description: `Image for agent types not in images, such as custom. Default "parallax/agent-base:latest".`,
			Decode: configblock.String(&c.DefaultImage, `an image like "parallax/agent-base:latest"`)},
		{Name: "image_pull_policy", Type: "string", Description: `"Always", "IfNotPresent" or "Never". Default "IfNotPresent".`,
			Decode: configblock.OneOf(&c.ImagePullPolicy, string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever))},
		{Name: "image_pull_secrets", Type: "list(string)", Description: `Names of docker-registry secrets in the namespace for private images.`,
			Decode: configblock.List[string](&c.ImagePullSecrets, `a list of secret names like ["regcred"]`, nil)},
		{Name: "service_account", Type: "string", Description: `Service account of agent pods. Its token is not mounted: agents get no access to the cluster.`,
			Decode: configblock.String(&c.ServiceAccount, `a service account like "agents"`)},
		{Name: "node_selector", Type: "map(string)", Description: `Node labels agent pods must run on, like { pool = "agents" }.`,
			Decode: configblock.Map(&c.NodeSelector, `a map of node labels like { pool = "agents" }`, nil)},
		{Name: "tolerations", Type: "list(map(string))", Description: `Tolerations of agent pods, like [{ key = "agents", operator = "Exists", effect = "NoSchedule" }].`,
			Decode: configblock.List(&c.Tolerations, `a list of tolerations like [{ key = "agents", operator = "Exists", effect = "NoSchedule" }]`, toleration)},
		{Name: "default_cpu", Type: "string", Description: `CPU of agents that ask for none, like "1" or "500m"; requests equal limits. Default: none.`,
			Decode: configblock.CPU(&c.DefaultCPU)},
		{Name: "default_memory", Type: "string", Description: `Memory of agents that ask for none, like "2Gi"; requests equal limits. Default: none.`,
			Decode: configblock.Memory(&c.DefaultMemory)},
		{Name: "labels", Type: "map(string)", Description: `Extra labels on agent pods and secrets. Keys starting with "parallax." are the runtime's own.`,
			Decode: configblock.Map(&c.Labels, `a map of labels like { team = "infra" }`, checkLabel)},
		{Name: "annotations", Type: "map(string)", Description: `Extra annotations on agent pods.`,
			Decode: configblock.Map(&c.Annotations, `a map of annotations like { owner = "me" }`, nil)},
		{Name: "workdir_pvc", Type: "string", Description: `A PersistentVolumeClaim to mount at /workspace. Default: an emptyDir per agent; the host's workdir is not copied.`,
			Decode: configblock.String(&c.WorkdirPVC, `a claim name like "workspaces"`)},
		{Name: "wait_unschedulable", Type: "string", Description: `How long an unschedulable pod may wait for room before its start fails, like "5m" with a cluster autoscaler. Default "0s": fail at once.`,
			Decode: configblock.Duration(&c.WaitUnschedulable)},
		{Name: "start_timeout", Type: "string", Description: `How long a pod may take to run, image pull included. Default "5m".`,
			Decode: configblock.PositiveDuration(&c.StartTimeout)},
		configblock.StopTimeout(&c.DefaultStopTimeout),
		configblock.ScrollbackBytes(&c.ScrollbackBytes),
	}
}

// checkLabel vets an extra label of the config's.
func checkLabel(k, v string) error {
	if strings.HasPrefix(k, labelPrefix) {
		return fmt.Errorf("%q starts with %q, which the runtime keeps for itself; rename it", k, labelPrefix)
	}
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return fmt.Errorf("key %q: %s", k, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		return fmt.Errorf("value of %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

// toleration reads one toleration of the config's.
func toleration(m map[string]string) (Toleration, error) {
	for k := range m {
		switch k {
		case "key", "operator", "value", "effect":
		default:
			return Toleration{}, fmt.Errorf("%q is not known; use key, operator, value and effect", k)
		}
	}
	t := Toleration{Key: m["key"], Operator: m["operator"], Value: m["value"], Effect: m["effect"]}
	switch corev1.TolerationOperator(t.Operator) {
	case "", corev1.TolerationOpEqual, corev1.TolerationOpExists:
	default:
		return t, fmt.Errorf(`operator %q is not known; use "Equal" or "Exists"`, t.Operator)
	}
	switch corev1.TaintEffect(t.Effect) {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return t, fmt.Errorf(`effect %q is not known; use "NoSchedule", "PreferNoSchedule" or "NoExecute"`, t.Effect)
	}
	return t, nil
}

// defaultImages are the images `make images` builds, as runtime-docker uses.
var defaultImages = map[string]string{
	"claude": "parallax/agent-claude:latest",
	"codex":  "parallax/agent-codex:latest",
	"gemini": "parallax/agent-gemini:latest",
	"aider":  "parallax/agent-aider:latest",
}

// decodeConfig reads the config block over the defaults.
func decodeConfig(raw []byte) (Config, error) {
	cfg := Config{
		Images:             maps.Clone(defaultImages),
		ImagePullPolicy:    string(corev1.PullIfNotPresent),
		DefaultImage:       "parallax/agent-base:latest",
		StartTimeout:       5 * time.Minute,
		DefaultStopTimeout: configblock.DefaultStopTimeout,
		ScrollbackBytes:    configblock.DefaultScrollbackBytes,
	}
	if err := configblock.Decode(raw, cfg.attrs()); err != nil {
		return cfg, err
	}
	if cfg.InCluster && (cfg.Kubeconfig != "" || cfg.Context != "") {
		return cfg, fmt.Errorf(`%w: config attributes "in_cluster" and "kubeconfig"/"context" exclude each other; keep one`, runtime.ErrInvalidSpec)
	}
	return cfg, nil
}

// imageFor picks an agent's image: the spec's hint, else the one for its
// type, else the default.
func (c *Config) imageFor(hint, agentType string) string {
	if hint != "" {
		return hint
	}
	if img, ok := c.Images[agentType]; ok {
		return img
	}
	return c.DefaultImage
}
