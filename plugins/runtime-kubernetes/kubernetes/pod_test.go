package kubernetes

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/parallax/parallax/sdk/runtime"
)

func TestObjects(t *testing.T) {
	cfg := testConfig(t, `{"labels":{"team":"infra"},"annotations":{"owner":"me"},"service_account":"agents",
		"node_selector":{"pool":"agents"},"tolerations":[{"key":"agents","operator":"Exists","effect":"NoSchedule"}],
		"image_pull_secrets":["regcred"],"images":{"claude":"registry/claude:1"}}`)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	spec := runtime.Spec{
		ID: "a1b2c3", Argv: []string{"claude", "--flag"},
		Env:       map[string]string{"ANTHROPIC_API_KEY": "sk-ant-secret", "TERM": "xterm-256color"},
		Resources: runtime.Resources{CPU: "500m", Memory: "2Gi", Timeout: 90 * time.Second},
		Labels:    map[string]string{"parallax.type": "claude", "parallax.capabilities": "a,b"},
	}
	secret, pod, err := objects(cfg, "host-1", spec, now)
	if err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers[0]
	if !c.TTY || !c.Stdin || c.Image != "registry/claude:1" || c.WorkingDir != "/workspace" {
		t.Errorf("container: tty %v stdin %v image %q workdir %q", c.TTY, c.Stdin, c.Image, c.WorkingDir)
	}
	if got := append(append([]string{}, c.Command...), c.Args...); got[len(got)-2] != "claude" || got[len(got)-1] != "--flag" || got[0] != "/bin/sh" {
		t.Errorf("argv %q: want the gate, then the agent's argv", got)
	}
	wantRes := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("2Gi")}
	for name, want := range wantRes {
		req, lim := c.Resources.Requests[name], c.Resources.Limits[name]
		if req.Cmp(want) != 0 || lim.Cmp(want) != 0 {
			t.Errorf("%s: request %s limit %s, want both %s (Guaranteed)", name, req.String(), lim.String(), want.String())
		}
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d == nil || *d != 90 {
		t.Errorf("activeDeadlineSeconds %v, want 90", d)
	}
	if got := pod.Annotations[annotationDeadline]; got != "2026-01-02T03:05:35Z" {
		t.Errorf("deadline annotation %q", got)
	}
	for k, want := range map[string]string{labelManaged: "true", labelAgent: "a1b2c3", labelHostInstance: "host-1", "team": "infra"} {
		if pod.Labels[k] != want || secret.Labels[k] != want {
			t.Errorf("label %s: pod %q secret %q, want %q", k, pod.Labels[k], secret.Labels[k], want)
		}
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || pod.Spec.ServiceAccountName != "agents" ||
		pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken ||
		pod.Spec.NodeSelector["pool"] != "agents" || len(pod.Spec.Tolerations) != 1 || pod.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("pod spec: %+v", pod.Spec)
	}
	// Credentials live only in the secret; the pod names keys.
	raw, _ := json.Marshal(pod)
	if strings.Contains(string(raw), "sk-ant-secret") {
		t.Errorf("the pod carries a credential: %s", raw)
	}
	if string(secret.Data["ANTHROPIC_API_KEY"]) != "sk-ant-secret" {
		t.Errorf("secret data %v", secret.Data)
	}
	for _, e := range c.Env {
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != secret.Name || e.ValueFrom.SecretKeyRef.Key != e.Name {
			t.Errorf("env %+v: want a reference to key %s of secret %s", e, e.Name, secret.Name)
		}
	}
	if got := specLabelsOf(pod); got["parallax.capabilities"] != "a,b" {
		t.Errorf("spec labels read back as %v", got)
	}
}

func TestObjectsRejects(t *testing.T) {
	cfg := testConfig(t, "")
	good := runtime.Spec{ID: "a1", Argv: []string{"sh"}}
	tests := []struct {
		name string
		edit func(*runtime.Spec)
		want string
	}{
		{"empty argv", func(s *runtime.Spec) { s.Argv = nil }, "argv is empty"},
		{"bad cpu", func(s *runtime.Spec) { s.Resources.CPU = "lots" }, "cpu"},
		{"bad memory", func(s *runtime.Spec) { s.Resources.Memory = "2 gigs" }, "memory"},
		{"negative timeout", func(s *runtime.Spec) { s.Resources.Timeout = -time.Second }, "timeout"},
		{"bad env name", func(s *runtime.Spec) { s.Env = map[string]string{"1BAD": "x"} }, `env "1BAD"`},
		{"id not a label value", func(s *runtime.Spec) { s.ID = "has space" }, "agent id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			tt.edit(&spec)
			if _, _, err := objects(cfg, "h", spec, time.Now()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("objects: %v; want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestStateOf(t *testing.T) {
	terminated := func(code, signal int32, reason string) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Signal: signal, Reason: reason}},
		}}}
	}
	tests := []struct {
		name    string
		status  *corev1.PodStatus
		running bool
		code    int
		signal  string
		reason  string
		problem string
		fatal   bool
	}{
		{name: "deleted", code: -1, reason: "lost: its pod was deleted"},
		{name: "running", status: &corev1.PodStatus{Phase: corev1.PodRunning}, running: true},
		{name: "pending", status: &corev1.PodStatus{Phase: corev1.PodPending}},
		{name: "unschedulable", status: &corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu.",
		}}}, problem: "unschedulable: 0/1 nodes are available: 1 Insufficient cpu."},
		{name: "image pull", status: &corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}},
		}}}, problem: "ImagePullBackOff: Back-off pulling image", fatal: true},
		{name: "creating", status: &corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		}}}},
		{name: "exit 3", status: ptr(terminated(3, 0, "Error")), code: 3, reason: "exited"},
		{name: "succeeded", status: &corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}},
		}}}, code: 0, reason: "exited"},
		{name: "signal field", status: ptr(terminated(0, 15, "Error")), code: -1, signal: "SIGTERM", reason: "exited"},
		{name: "128+9", status: ptr(terminated(137, 0, "Error")), code: -1, signal: "SIGKILL", reason: "exited"},
		{name: "oom", status: ptr(terminated(137, 0, "OOMKilled")), code: -1, signal: "SIGKILL", reason: "killed: out of memory"},
		{name: "deadline", status: &corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}, code: -1, reason: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pod *corev1.Pod
			if tt.status != nil {
				pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: *tt.status}
			}
			st := stateOf(pod)
			if st.running != tt.running || st.problem != tt.problem || st.fatal != tt.fatal {
				t.Errorf("running %v problem %q fatal %v; want %v %q %v", st.running, st.problem, st.fatal, tt.running, tt.problem, tt.fatal)
			}
			exited := tt.reason != ""
			if (st.exit != nil) != exited {
				t.Fatalf("exit %+v, want exited %v", st.exit, exited)
			}
			if exited && (st.exit.Code != tt.code || st.exit.Signal != tt.signal || st.exit.Reason != tt.reason) {
				t.Errorf("exit %+v; want code %d signal %q reason %q", *st.exit, tt.code, tt.signal, tt.reason)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The gate, run here by /bin/sh as a pod would run it: it unpacks the
// home from the env, drops that env, waits for its line, then runs the
// agent's argv.
func TestGateUnpacksTheHomeThenRunsTheAgent(t *testing.T) {
	seedDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(seedDir, ".claude"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seedDir, ".claude", "settings.json"), []byte(`{"x":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "")
	secret, pod, err := objects(cfg, "h", runtime.Spec{ID: "g", Home: seedDir, Env: map[string]string{"HOME": agentHome},
		Argv: []string{"/bin/sh", "-c", `cat "$HOME/.claude/settings.json"; echo " seed:${PARALLAX_HOME_SEED:-unset}"`}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home", "agent")
	c := pod.Spec.Containers[0]
	cmd := exec.Command(c.Command[0], append(c.Command[1:], c.Args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, homeSeedEnv + "=" + string(secret.Data[homeSeedEnv])}
	cmd.Stdin = strings.NewReader("\n")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != `{"x":1} seed:unset`+"\n" {
		t.Fatalf("gate: %v, output %q", err, out)
	}
	if fi, err := os.Stat(filepath.Join(home, ".claude", "settings.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("unpacked settings: %v, %v; want mode 0600", fi, err)
	}
}
