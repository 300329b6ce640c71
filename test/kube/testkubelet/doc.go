// Package testkubelet is a fake kubelet for tests: it runs the pods bound to
// one node as local processes on a PTY and serves the kubelet endpoints the
// API server proxies pods/attach and pods/log to.
//
// There is no real kubelet in the test cluster (kwok only fakes pod status),
// so without this package attaching to a pod would have nothing to attach
// to. The attach endpoint speaks the same protocols a kubelet does (SPDY
// v1–v4, WebSocket channel.k8s.io/v4 and v5) through Kubernetes' own
// streaming code, so the runtime under test goes through the real wire path.
//
// Each pod's first container runs as Command + Args (the image is not
// read) on a PTY, tty or not, in a temporary working directory, with the
// container's env (literal values and valueFrom.secretKeyRef). When it
// exits, the pod's status says so, as a kubelet's would; when the pod is
// deleted, the process group gets SIGTERM, then SIGKILL after the grace
// period (at most a few seconds).
//
// What it does not do, on purpose: images, volumes, probes, restarts,
// init containers, exec, port-forward, $(VAR) expansion, or more than the
// first container of a pod.
package testkubelet
