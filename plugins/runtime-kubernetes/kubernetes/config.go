package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/parallax/parallax/sdk/runtime"
)

// Config is the runtime's config {} block, decoded.
type Config struct {
	// Kubeconfig and Context pick the cluster; InCluster uses the pod's
	// service account instead.
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
	InCluster  bool   `json:"in_cluster"`
	Namespace  string `json:"namespace"`

	Images           map[string]string `json:"images"`
	DefaultImage     string            `json:"default_image"`
	ImagePullPolicy  string            `json:"image_pull_policy"`
	ImagePullSecrets []string          `json:"image_pull_secrets"`
	ServiceAccount   string            `json:"service_account"`
	NodeSelector     map[string]string `json:"node_selector"`
	Tolerations      []Toleration      `json:"tolerations"`

	DefaultCPU    string            `json:"default_cpu"`
	DefaultMemory string            `json:"default_memory"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations"`

	// WorkdirPVC, when set, is mounted at /workspace instead of an
	// emptyDir.
	WorkdirPVC string `json:"workdir_pvc"`

	// WaitUnschedulable is how long an unschedulable pod may wait for room
	// (a cluster autoscaler adding a node) before its start fails.
	WaitUnschedulable duration `json:"wait_unschedulable"`
	// StartTimeout bounds the wait for a pod to run, image pulls included.
	StartTimeout       duration `json:"start_timeout"`
	DefaultStopTimeout duration `json:"default_stop_timeout"`
	ScrollbackBytes    int      `json:"scrollback_bytes"`
}

// Toleration is a pod toleration as written in HCL.
type Toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
	Effect   string `json:"effect"`
}

// duration reads "10s" style strings.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration like "30s" or "5m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration; give one like \"30s\" or \"5m\"", s)
	}
	*d = duration(v)
	return nil
}

var configSchema = []runtime.ConfigAttr{
	{Name: "kubeconfig", Type: "string", Description: `Path of the kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.`},
	{Name: "context", Type: "string", Description: `Kubeconfig context to use. Default: the file's current context.`},
	{Name: "in_cluster", Type: "bool", Description: `Use the service account of the pod the host runs in, instead of a kubeconfig. Default false.`},
	{Name: "namespace", Type: "string", Description: `Namespace of agent pods and their secrets. Default: the context's namespace, else "default".`},
	{Name: "images", Type: "map(string)", Description: `Image per agent type, like { claude = "registry/agent-claude:latest" }. Default: parallax/agent-<type>:latest (see make images).`},
	{Name: "default_image", Type: "string", Description: `Image for agent types not in images, such as custom. Default "parallax/agent-base:latest".`},
	{Name: "image_pull_policy", Type: "string", Description: `"Always", "IfNotPresent" or "Never". Default "IfNotPresent".`},
	{Name: "image_pull_secrets", Type: "list(string)", Description: `Names of docker-registry secrets in the namespace for private images.`},
	{Name: "service_account", Type: "string", Description: `Service account of agent pods. Its token is not mounted: agents get no access to the cluster.`},
	{Name: "node_selector", Type: "map(string)", Description: `Node labels agent pods must run on, like { pool = "agents" }.`},
	{Name: "tolerations", Type: "list(map(string))", Description: `Tolerations of agent pods, like [{ key = "agents", operator = "Exists", effect = "NoSchedule" }].`},
	{Name: "default_cpu", Type: "string", Description: `CPU of agents that ask for none, like "1" or "500m"; requests equal limits. Default: none.`},
	{Name: "default_memory", Type: "string", Description: `Memory of agents that ask for none, like "2Gi"; requests equal limits. Default: none.`},
	{Name: "labels", Type: "map(string)", Description: `Extra labels on agent pods and secrets. Keys starting with "parallax." are the runtime's own.`},
	{Name: "annotations", Type: "map(string)", Description: `Extra annotations on agent pods.`},
	{Name: "workdir_pvc", Type: "string", Description: `A PersistentVolumeClaim to mount at /workspace. Default: an emptyDir per agent; the host's workdir is not copied.`},
	{Name: "wait_unschedulable", Type: "string", Description: `How long an unschedulable pod may wait for room before its start fails, like "5m" with a cluster autoscaler. Default "0s": fail at once.`},
	{Name: "start_timeout", Type: "string", Description: `How long a pod may take to run, image pull included. Default "5m".`},
	{Name: "default_stop_timeout", Type: "string", Description: `Grace period of a graceful stop, like "10s". Default "10s".`},
	{Name: "scrollback_bytes", Type: "number", Description: "Output kept per agent and replayed to a new attach. Default 262144 (256 KiB)."},
}

// defaultImages are the images `make images` builds, as runtime-docker uses.
var defaultImages = map[string]string{
	"claude": "parallax/agent-claude:latest",
	"codex":  "parallax/agent-codex:latest",
	"gemini": "parallax/agent-gemini:latest",
	"aider":  "parallax/agent-aider:latest",
}

const (
	minScrollback = 1 << 10
	maxScrollback = 1 << 30
)

// decodeConfig reads the config block and says which attribute is wrong
// and how to fix it.
func decodeConfig(raw []byte) (Config, error) {
	cfg := Config{
		ImagePullPolicy:    string(corev1.PullIfNotPresent),
		DefaultImage:       "parallax/agent-base:latest",
		StartTimeout:       duration(5 * time.Minute),
		DefaultStopTimeout: duration(10 * time.Second),
		ScrollbackBytes:    256 << 10,
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &attrs); err != nil {
			return cfg, fmt.Errorf("%w: config must be a JSON object: %v", runtime.ErrInvalidSpec, err)
		}
		// One attribute at a time, so every error names its attribute.
		for _, name := range slices.Sorted(maps.Keys(attrs)) {
			one, _ := json.Marshal(map[string]json.RawMessage{name: attrs[name]})
			dec := json.NewDecoder(bytes.NewReader(one))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				return cfg, fmt.Errorf("%w: config attribute %q: %s", runtime.ErrInvalidSpec, name, configError(err))
			}
		}
	}
	images := map[string]string{}
	for k, v := range defaultImages {
		images[k] = v
	}
	for k, v := range cfg.Images {
		images[k] = v
	}
	cfg.Images = images
	if err := cfg.check(); err != nil {
		return cfg, fmt.Errorf("%w: %v", runtime.ErrInvalidSpec, err)
	}
	return cfg, nil
}

// configError says what is wrong with one attribute's value.
func configError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("want a %s, not a JSON %s", typeErr.Type, typeErr.Value)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		names := make([]string, len(configSchema))
		for i, a := range configSchema {
			names[i] = a.Name
		}
		return "not known; known ones are " + strings.Join(names, ", ")
	}
	return err.Error()
}

func (c *Config) check() error {
	if c.InCluster && (c.Kubeconfig != "" || c.Context != "") {
		return errors.New(`config attributes "in_cluster" and "kubeconfig"/"context" exclude each other; keep one`)
	}
	if c.Namespace != "" {
		if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
			return fmt.Errorf("config attribute \"namespace\": %q: %s", c.Namespace, strings.Join(errs, "; "))
		}
	}
	switch corev1.PullPolicy(c.ImagePullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf(`config attribute "image_pull_policy": %q is not known; use "Always", "IfNotPresent" or "Never"`, c.ImagePullPolicy)
	}
	for typ, img := range c.Images {
		if strings.TrimSpace(img) == "" {
			return fmt.Errorf("config attribute \"images\": the image for %q is empty; give an image or leave %q out", typ, typ)
		}
	}
	if c.DefaultCPU != "" {
		if _, err := runtime.ParseCPU(c.DefaultCPU); err != nil {
			return fmt.Errorf("config attribute \"default_cpu\": %v", err)
		}
	}
	if c.DefaultMemory != "" {
		if _, err := runtime.ParseMemory(c.DefaultMemory); err != nil {
			return fmt.Errorf("config attribute \"default_memory\": %v", err)
		}
	}
	for k := range c.Labels {
		if strings.HasPrefix(k, labelPrefix) {
			return fmt.Errorf("config attribute \"labels\": %q starts with %q, which the runtime keeps for itself; rename it", k, labelPrefix)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("config attribute \"labels\": key %q: %s", k, strings.Join(errs, "; "))
		}
	}
	for k, v := range c.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("config attribute \"labels\": value of %q: %s", k, strings.Join(errs, "; "))
		}
	}
	for i, t := range c.Tolerations {
		switch corev1.TolerationOperator(t.Operator) {
		case "", corev1.TolerationOpEqual, corev1.TolerationOpExists:
		default:
			return fmt.Errorf(`config attribute "tolerations"[%d]: operator %q is not known; use "Equal" or "Exists"`, i, t.Operator)
		}
		switch corev1.TaintEffect(t.Effect) {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return fmt.Errorf(`config attribute "tolerations"[%d]: effect %q is not known; use "NoSchedule", "PreferNoSchedule" or "NoExecute"`, i, t.Effect)
		}
	}
	if c.DefaultStopTimeout <= 0 {
		return errors.New(`config attribute "default_stop_timeout": give a positive duration like "10s"`)
	}
	if c.StartTimeout <= 0 {
		return errors.New(`config attribute "start_timeout": give a positive duration like "5m"`)
	}
	if c.ScrollbackBytes < minScrollback || c.ScrollbackBytes > maxScrollback {
		return fmt.Errorf("config attribute \"scrollback_bytes\": %d is out of range; give a number of bytes from %d to %d", c.ScrollbackBytes, minScrollback, maxScrollback)
	}
	return nil
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
