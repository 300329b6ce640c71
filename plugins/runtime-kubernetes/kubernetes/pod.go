package kubernetes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/parallax/parallax/sdk/runtime"
	"github.com/parallax/parallax/sdk/runtime/hometar"
)

const (
	// containerName is the agent's container, the only one.
	containerName = "agent"
	workspace     = "/workspace"
	// typeLabel is the host's label with the agent type, which picks the
	// image.
	typeLabel = "parallax.type"
)

// gateCommand holds the agent back until the plugin attached and sent
// one line: a kubelet streams only what comes after an attach, so output
// written before it (a TUI's first frame) would be lost. The line is not
// echoed; "$0" names the gate in ps.
//
// Before that it unpacks the agent's pre-seeded home (Spec.Home, a tar in
// the agent's secret, passed as env) into $HOME, as the agent's own user.
var gateCommand = []string{"/bin/sh", "-c", gateScript, "parallax-gate"}

const gateScript = `if [ -n "$` + homeSeedEnv + `" ]; then
  mkdir -p "$HOME" && printf %s "$` + homeSeedEnv + `" | base64 -d | tar -xmf - -C "$HOME" || echo "parallax: could not unpack the agent's home into $HOME" >&2
fi
unset ` + homeSeedEnv + `
stty -echo 2>/dev/null; IFS= read -r _; stty echo 2>/dev/null
exec "$@"`

// homeSeedEnv carries the home's tar, base64, from the secret to the gate.
const homeSeedEnv = "PARALLAX_HOME_SEED"

// agentHome is where agents find their pre-seeded home: the home of user
// "agent" in the parallax images.
const agentHome = "/home/agent"

// maxHomeSeed bounds the home's tar: it travels in one env var, and a
// secret holds 1 MiB in all. A CLI's settings are a few kilobytes.
const maxHomeSeed = 96 << 10

// resourceList turns the spec's cpu and memory, or the config's defaults,
// into one list used for both requests and limits: equal ones make the pod
// Guaranteed, so it is the last to be evicted.
func resourceList(cfg Config, res runtime.Resources) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	cpu := cmpOr(res.CPU, cfg.DefaultCPU)
	if cpu != "" {
		milli, err := runtime.ParseCPU(cpu)
		if err != nil {
			return nil, fmt.Errorf("resources: %v", err)
		}
		out[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
	}
	mem := cmpOr(res.Memory, cfg.DefaultMemory)
	if mem != "" {
		b, err := runtime.ParseMemory(mem)
		if err != nil {
			return nil, fmt.Errorf("resources: %v", err)
		}
		out[corev1.ResourceMemory] = *resource.NewQuantity(b, resource.BinarySI)
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// objects builds the Secret holding the agent's env and the Pod that runs
// it. Every env value goes in the Secret, as the runtime can't tell a key
// from a setting; the pod names only the keys.
func objects(cfg Config, hostInstance string, spec runtime.Spec, now time.Time) (*corev1.Secret, *corev1.Pod, error) {
	if spec.ID == "" {
		return nil, nil, fmt.Errorf("agent id is empty")
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, nil, fmt.Errorf("argv is empty: give the command to run")
	}
	if err := checkLabelValue("agent id", spec.ID); err != nil {
		return nil, nil, err
	}
	if spec.Resources.Timeout < 0 {
		return nil, nil, fmt.Errorf("resources: timeout %v is negative", spec.Resources.Timeout)
	}
	for k := range spec.Env {
		if errs := validation.IsEnvVarName(k); len(errs) > 0 {
			return nil, nil, fmt.Errorf("env %q: %s", k, strings.Join(errs, "; "))
		}
	}
	res, err := resourceList(cfg, spec.Resources)
	if err != nil {
		return nil, nil, err
	}
	image := cfg.imageFor(spec.Image, spec.Labels[typeLabel])
	name := objectName(hostInstance, spec.ID)

	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelManaged] = "true"
	labels[labelAgent] = spec.ID
	labels[labelHostInstance] = hostInstance
	specLabels, err := json.Marshal(spec.Labels)
	if err != nil {
		return nil, nil, err
	}
	annotations := maps.Clone(cfg.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationSpecLabels] = string(specLabels)

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cfg.Namespace, Labels: maps.Clone(labels)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{},
	}
	envs := maps.Clone(spec.Env)
	if spec.Home != "" {
		seed, err := homeSeed(spec.Home)
		if err != nil {
			return nil, nil, err
		}
		if envs == nil {
			envs = map[string]string{}
		}
		envs[homeSeedEnv] = base64.StdEncoding.EncodeToString(seed)
	}
	keys := slices.Sorted(maps.Keys(envs))
	env := make([]corev1.EnvVar, 0, len(keys))
	for _, k := range keys {
		secret.Data[k] = []byte(envs[k])
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: k},
		}})
	}

	grace := int64(cfg.DefaultStopTimeout.Seconds())
	noToken := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cfg.Namespace, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ServiceAccountName:            cfg.ServiceAccount,
			AutomountServiceAccountToken:  &noToken,
			NodeSelector:                  maps.Clone(cfg.NodeSelector),
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:  containerName,
				Image: image,
				// The whole argv, behind the gate: the image's
				// entrypoint is replaced.
				Command:         gateCommand,
				Args:            slices.Clone(spec.Argv),
				Env:             env,
				TTY:             true,
				Stdin:           true,
				WorkingDir:      workspace,
				ImagePullPolicy: corev1.PullPolicy(cfg.ImagePullPolicy),
				Resources:       corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
				VolumeMounts:    []corev1.VolumeMount{{Name: "workspace", MountPath: workspace}},
			}},
			Volumes: []corev1.Volume{workspaceVolume(cfg)},
		},
	}
	if len(res) == 0 {
		pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	}
	for _, s := range cfg.ImagePullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	for _, t := range cfg.Tolerations {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect),
		})
	}
	if t := spec.Resources.Timeout; t > 0 {
		secs := max(int64(t.Seconds()), 1)
		pod.Spec.ActiveDeadlineSeconds = &secs
		annotations[annotationDeadline] = now.Add(t).UTC().Format(time.RFC3339Nano)
	}
	return secret, pod, nil
}

func workspaceVolume(cfg Config) corev1.Volume {
	v := corev1.Volume{Name: "workspace"}
	if cfg.WorkdirPVC != "" {
		v.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: cfg.WorkdirPVC}
	} else {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	return v
}

// homeSeed packs the agent's home for its gate to unpack into $HOME,
// owned by whoever unpacks it.
func homeSeed(dir string) ([]byte, error) {
	seed, err := hometar.Pack(dir, hometar.Options{})
	if err != nil {
		return nil, err
	}
	if len(seed) > maxHomeSeed {
		return nil, fmt.Errorf("home %s packs to %d bytes, more than the %d a pod's env can carry", dir, len(seed), maxHomeSeed)
	}
	return seed, nil
}
