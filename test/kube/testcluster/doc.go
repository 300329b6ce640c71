// Package testcluster gives the Kubernetes tests (runtime-kubernetes's, and
// the host's end-to-end test on runtime-kubernetes) a real Kubernetes
// control plane on 127.0.0.1: etcd embedded in the test process, a
// kube-apiserver and a kube-scheduler built from the pinned release, and
// kwok playing one node ("kwok-node-0") that runs every pod scheduled to it
// without running anything.
//
// The API server proxies pods/attach, exec and log of that node's pods to
// https://127.0.0.1:<Options.KubeletPort>, where a test may serve a fake
// kubelet. It presents the client certificate of a kubelet client signed by
// Cluster.CAFile and does not check the kubelet's serving certificate.
//
// The binaries come from test/kube/setup.sh, which builds them once per
// machine. Without them the tests skip with a loud message, or fail under
// CI=true.
package testcluster
