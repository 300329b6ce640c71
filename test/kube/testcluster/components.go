package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// startAPIServer runs kube-apiserver on 127.0.0.1:port against etcd.
func startAPIServer(t testing.TB, dir, bin string, pki pki, etcd string, port int) *process {
	t.Helper()
	return startProcess(t, dir, "kube-apiserver", bin, []string{
		"--etcd-servers=" + etcd,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--advertise-address=127.0.0.1",
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--token-auth-file=" + pki.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		// No --kubelet-certificate-authority: the API server then takes
		// any serving certificate from a kubelet, so a fake one needs no
		// certificate from us.
		"--kubelet-client-certificate=" + pki.kubeletClientCert,
		"--kubelet-client-key=" + pki.kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP",
		// 127.0.0.1 is not a valid endpoint address, so the reconciler
		// of the "kubernetes" service's endpoints would only log errors.
		"--endpoint-reconciler-type=none",
		// This plugin taints every new node not-ready, and only the
		// controller-manager, which we do not run, lifts the taint once
		// the node is Ready: no pod would ever be scheduled.
		"--disable-admission-plugins=TaintNodesByCondition",
		// Less to start and nothing these tests need.
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	})
}

// startScheduler runs kube-scheduler as the admin of kubeconfig and returns
// it with the port of its /readyz.
func startScheduler(t testing.TB, dir, bin, kubeconfig string) (*process, int) {
	t.Helper()
	// The scheduler's --kubeconfig and --leader-elect flags are
	// deprecated in favour of this file.
	config := filepath.Join(dir, "kube-scheduler.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
leaderElection:
  leaderElect: false
`, kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := startProcess(t, dir, "kube-scheduler", bin, []string{
		"--config=" + config,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "kube-scheduler"),
	})
	return p, port
}

// startKwok runs kwok as the admin of kubeconfig. It plays the nodes with
// kwok's annotation, saying their kubelet is at 127.0.0.1:kubeletPort, and
// the pods scheduled to them.
func startKwok(t testing.TB, dir string, bins binaries, kubeconfig string, kubeletPort int, kubeletDeletes bool) *process {
	t.Helper()
	stages := bins.kwokStages
	if kubeletDeletes {
		stages = stagesWithoutPodDelete(t, dir, bins.kwokStages)
	}
	return startProcess(t, dir, "kwok", bins.kwok, []string{
		"--kubeconfig=" + kubeconfig,
		"--config=" + stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=" + kwokValue,
		"--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(kubeletPort),
		// With --node-port, kwok serves its own kubelet API on
		// 0.0.0.0:<node-port> unless told another address, and it has no
		// flag to serve none. A free loopback port keeps it out of the
		// way of the fake kubelet the tests serve on the node port.
		"--server-address=127.0.0.1:" + strconv.Itoa(freePort(t)),
		// The stages' node heartbeat renews a lease, as a kubelet does.
		"--node-lease-duration-seconds=40",
	},
		// kwok reads ~/.kwok/kwok.yaml if there is one; keep it to ours.
		"KWOK_WORKDIR="+filepath.Join(dir, "kwok-home"),
	)
}

// schedulerReady asks the scheduler's /readyz, which it serves to anyone.
// Its certificate is self-signed, made at its start.
func schedulerReady(ctx context.Context, port int) error {
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/readyz", port), nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("scheduler /readyz: %s", res.Status)
	}
	return nil
}

// stagesWithoutPodDelete makes a stage set like fast (in dir) without its
// pod-delete stage, which removes a pod the moment it has a deletion
// timestamp. A fake kubelet that plays deletion itself (stops the
// process, reports its exit, then deletes the pod) wants that left to it,
// as a real kubelet does.
func stagesWithoutPodDelete(t testing.TB, dir, fast string) string {
	t.Helper()
	out := filepath.Join(dir, "kwok-stages")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []string{"node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml"}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(fast), f))
		if err != nil {
			t.Fatalf("kwok stages: %v", err)
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		kustomization += "- " + filepath.Base(f) + "\n"
	}
	if err := os.WriteFile(filepath.Join(out, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
