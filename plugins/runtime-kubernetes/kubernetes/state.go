package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/parallax/parallax/sdk/runtime"
)

// What survives a plugin restart is the pod, its labels and annotations:
// a restarted plugin lists the pods labelled with its host instance. Pods
// without our labels, or with another host instance's, are never touched.
const (
	labelPrefix       = "parallax."
	labelManaged      = "parallax.managed" // always "true"
	labelAgent        = "parallax.agent"   // the agent id
	labelHostInstance = "parallax.host-instance"
	// annotationDeadline is when the agent's timeout ends (RFC 3339), for
	// the host-side timer after a restart; activeDeadlineSeconds is the
	// cluster's own.
	annotationDeadline = "parallax.deadline"
	// annotationSpecLabels holds the host's labels for the agent as JSON;
	// they need not be valid Kubernetes label values.
	annotationSpecLabels = "parallax.spec-labels"
	// annotationGateOpen marks a pod whose gate the plugin opened, so a
	// restarted plugin re-attaching doesn't type a stray newline.
	annotationGateOpen = "parallax.gate-open"
)

// objectName names an agent's pod and secret: unique per host instance and
// agent, and a valid DNS label whatever the id is made of.
func objectName(hostInstance, id string) string {
	sum := sha256.Sum256([]byte(hostInstance + "\x00" + id))
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, id)
	clean = strings.Trim(clean, "-")
	if len(clean) > 40 {
		clean = clean[:40]
	}
	return strings.TrimSuffix("parallax-"+clean, "-") + "-" + hex.EncodeToString(sum[:4])
}

// checkLabelValue says why s can't be a label value, if it can't.
func checkLabelValue(what, s string) error {
	if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
		return fmt.Errorf("%s %q can't be a Kubernetes label value: %s", what, s, strings.Join(errs, "; "))
	}
	return nil
}

// specLabelsOf reads back the host's labels from a pod.
func specLabelsOf(pod *corev1.Pod) map[string]string {
	var out map[string]string
	_ = json.Unmarshal([]byte(pod.Annotations[annotationSpecLabels]), &out)
	return out
}

// Recover returns the agents this plugin process holds, for a host that
// reattached to it, after looking for the pods of this host instance that
// it doesn't follow: the running ones are adopted, the finished or expired
// ones deleted, with their secrets. Pods this process follows already are
// left as they are, so a second Recover changes nothing.
func (r *Runtime) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	cfg, client, err := r.ready()
	if err != nil {
		return nil, err
	}
	// A pod a Start just created would look left over.
	defer r.agents.PauseStarts()()
	// Logged, not returned: an error would keep from the host the agents
	// this process holds.
	if err := r.adoptLeftovers(ctx, cfg, client); err != nil {
		r.log.Error("recovering the pods of an earlier plugin process failed", "error", err)
	}
	return r.agents.ListWithEnv()
}

// adoptLeftovers adopts or deletes the pods of this host instance that r
// doesn't follow, and deletes the secrets without a pod.
func (r *Runtime) adoptLeftovers(ctx context.Context, cfg Config, client kubernetes.Interface) error {
	selector := labels.SelectorFromSet(labels.Set{labelManaged: "true", labelHostInstance: r.host}).String()
	pods, err := client.CoreV1().Pods(cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list our pods: %w", err)
	}
	live := map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		id := pod.Labels[labelAgent]
		st := stateOf(pod)
		deadline, _ := time.Parse(time.RFC3339Nano, pod.Annotations[annotationDeadline])
		expired := !deadline.IsZero() && time.Now().After(deadline)
		switch {
		case r.agents.Has(id):
			live[pod.Name] = true
		case st.running && !expired && pod.DeletionTimestamp == nil:
			a := newAgent(r, cfg, id, pod.Name)
			a.Labels, a.StartedAt = specLabelsOf(pod), startTime(pod)
			// The Secret is where the env, keys included, is kept; the host
			// needs it to mask the agent's keys after its own restart.
			var err error
			if a.Env, err = secretEnv(ctx, client, cfg.Namespace, pod.Name); err != nil {
				r.log.Warn("cannot read the adopted pod's Secret; the host will not know its keys", "pod", pod.Name, "error", err)
			}
			err = a.connect(pod.Annotations[annotationGateOpen] != "true")
			if err == nil {
				err = r.agents.Add(a)
			}
			if err != nil {
				a.cancel()
				r.log.Warn("cannot re-attach to a running pod; leaving it", "pod", pod.Name, "error", err)
				continue
			}
			go a.follow()
			a.armDeadline(deadline, cfg.DefaultStopTimeout)
			live[pod.Name] = true
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
	return nil
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
