package testkubelet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// routes serves the kubelet paths the API server proxies pods/attach and
// pods/log to. Anything else is a 404.
func (k *Kubelet) routes() http.Handler {
	mux := http.NewServeMux()
	for _, method := range []string{"GET", "POST"} {
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", k.serveAttach)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", k.serveAttach)
	}
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.serveLogs)
	return mux
}

// startTimeout is how long a request waits for the container of a Running
// pod to start.
const startTimeout = 5 * time.Second

// lookup finds the container a request names, or answers the request with
// the error a kubelet would give.
//
// A kubelet reports a pod Running once its container runs. Here kwok
// reports it, and this kubelet starts the process when it sees that, a
// moment later; a client that attaches as soon as it sees Running may come
// in between. So for a Running pod, lookup waits for the start.
func (k *Kubelet) lookup(w http.ResponseWriter, r *http.Request) (*container, bool) {
	namespace, name, ctrName := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	uid := r.PathValue("uid") // empty on the path without it
	c, err := k.startedContainer(r.Context(), namespace, name)
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusNotFound)
		return nil, false
	case c == nil:
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start", ctrName, name), http.StatusBadRequest)
		return nil, false
	case uid != "" && uid != string(c.uid):
		http.Error(w, fmt.Sprintf("pod %q with uid %q does not exist", name, uid), http.StatusNotFound)
		return nil, false
	case ctrName != c.name:
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", ctrName, name), http.StatusNotFound)
		return nil, false
	}
	return c, true
}

// startedContainer returns the container of the pod namespace/name: nil if
// it has not started (after startTimeout if the pod is Running), an error
// if there is no such pod on this node. It asks the API server rather than
// the informer's cache, which may lag behind what the client saw.
func (k *Kubelet) startedContainer(ctx context.Context, namespace, name string) (*container, error) {
	deadline := time.Now().Add(startTimeout)
	for {
		c := k.container(namespace, name)
		pod, err := k.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil || pod.Spec.NodeName != k.nodeName:
			if c != nil {
				return c, nil // deleted, but its container is still here
			}
			return nil, fmt.Errorf("pod %q does not exist", name)
		case c != nil && c.uid == pod.UID:
			return c, nil
		case pod.Status.Phase != corev1.PodRunning || time.Now().After(deadline):
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// serveAttach attaches to a running container, over any protocol client-go
// speaks. The query names the streams (input, output, error, tty = 1), as
// the API server writes it.
func (k *Kubelet) serveAttach(w http.ResponseWriter, r *http.Request) {
	c, ok := k.lookup(w, r)
	if !ok {
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !c.isRunning() {
		http.Error(w, fmt.Sprintf("container %q is not running", c.name), http.StatusBadRequest)
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveAttachWebSocketV5(w, r, c, opts)
		return
	}
	// SPDY (channel.k8s.io v1 to v4) and WebSocket (channel.k8s.io, v4):
	// the kubelet's own streaming server code. No idle timeout, as the
	// connection lives as long as the test wants it.
	remotecommand.ServeAttach(w, r, c, c.pod, string(c.uid), c.name, opts,
		0, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// serveAttachWebSocketV5 serves an attach over v5.channel.k8s.io, the
// protocol client-go's WebSocket executor asks for. The streaming server
// code above stops at v4. The API server passes v5 on to a kubelet only if
// the node lists ExtendWebSocketsToKubelet in status.declaredFeatures
// (otherwise it translates v5 to SPDY itself), and a real kubelet then
// translates it to SPDY for the runtime. Here the connection is served
// directly with the same library (wsstream handles v5's stream close
// signal); only the session setup and the final status are written out.
func serveAttachWebSocketV5(w http.ResponseWriter, r *http.Request, c *container, opts *remotecommand.Options) {
	channel := func(used bool, t wsstream.ChannelType) wsstream.ChannelType {
		if used {
			return t
		}
		return wsstream.IgnoreChannel
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		remotecommand.StreamProtocolV5Name: {Binary: true, Channels: []wsstream.ChannelType{
			remotecommand.StreamStdIn:  channel(opts.Stdin, wsstream.ReadChannel),
			remotecommand.StreamStdOut: channel(opts.Stdout, wsstream.WriteChannel),
			remotecommand.StreamStdErr: channel(opts.Stderr, wsstream.WriteChannel),
			remotecommand.StreamErr:    wsstream.WriteChannel,
			remotecommand.StreamResize: channel(opts.TTY, wsstream.ReadChannel),
		}},
	})
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return // Open has answered the client
	}
	defer conn.Close()

	// An empty message on the first stream the client reads tells it the
	// connection is ready, as the kubelet and the API server do.
	first := remotecommand.StreamErr
	if opts.Stdout {
		first = remotecommand.StreamStdOut
	} else if opts.Stderr {
		first = remotecommand.StreamStdErr
	}
	if _, err := streams[first].Write(nil); err != nil {
		return
	}

	var stdin io.Reader
	var stdout, stderr io.WriteCloser
	if opts.Stdin {
		stdin = streams[remotecommand.StreamStdIn]
	}
	if opts.Stdout {
		stdout = streams[remotecommand.StreamStdOut]
	}
	if opts.Stderr {
		stderr = streams[remotecommand.StreamStdErr]
	}
	var resize chan remotecommand.TerminalSize
	if opts.TTY {
		resize = make(chan remotecommand.TerminalSize)
		go decodeResizes(streams[remotecommand.StreamResize], resize)
	}

	status := metav1.Status{Status: metav1.StatusSuccess}
	if err := c.AttachContainer(r.Context(), c.pod, string(c.uid), c.name, stdin, stdout, stderr, opts.TTY, resize); err != nil {
		status = apierrors.NewInternalError(err).ErrStatus
	}
	// The last message, on the error stream, is how the attach ended.
	if b, err := json.Marshal(status); err == nil {
		_, _ = streams[remotecommand.StreamErr].Write(b)
	}
}

// decodeResizes reads terminal sizes (JSON objects, one after another)
// until the stream ends, then closes sizes.
func decodeResizes(stream io.Reader, sizes chan<- remotecommand.TerminalSize) {
	defer close(sizes)
	dec := json.NewDecoder(stream)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		sizes <- size
	}
}

// serveLogs answers what pods/log proxies to: the container's output so far
// (the last logLimit bytes), then with follow=true what comes next until
// the container exits. tailLines and limitBytes work as for a kubelet.
func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	c, ok := k.lookup(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("previous") == "true" {
		// There are no restarts here, so never a previous container.
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", c.name, c.pod), http.StatusBadRequest)
		return
	}
	tail, err := intParam(q.Get("tailLines"))
	if err != nil {
		http.Error(w, "tailLines: "+err.Error(), http.StatusBadRequest)
		return
	}
	limit, err := intParam(q.Get("limitBytes"))
	if err != nil {
		http.Error(w, "limitBytes: "+err.Error(), http.StatusBadRequest)
		return
	}

	var history []byte
	var f *follower // nil unless following
	if q.Get("follow") == "true" {
		history, f = c.out.follow()
		defer c.out.unfollow(f)
		go func() {
			<-r.Context().Done() // the client left, or the handler returned
			c.out.unfollow(f)
		}()
	} else {
		history = c.out.snapshot()
	}
	if tail >= 0 {
		history = lastLines(history, tail)
	}

	w.Header().Set("Content-Type", "text/plain")
	flusher, _ := w.(http.Flusher)
	// write sends b and reports whether to go on: not once limitBytes are
	// sent or the client is gone.
	write := func(b []byte) bool {
		if limit >= 0 {
			b = b[:min(len(b), limit)]
			limit -= len(b)
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return limit != 0
	}
	if !write(history) || f == nil {
		return
	}
	for {
		chunk, ok := f.next()
		if !ok || !write(chunk) {
			return
		}
	}
}

// intParam parses a non-negative integer query parameter; -1 means unset.
func intParam(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err == nil && n < 0 {
		err = fmt.Errorf("%d is negative", n)
	}
	return n, err
}

// lastLines returns the last n lines of b. A final newline ends the last
// line; it does not start another.
func lastLines(b []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	i := len(b)
	if i > 0 && b[i-1] == '\n' {
		i--
	}
	for ; n > 0; n-- {
		i = bytes.LastIndexByte(b[:i], '\n')
		if i < 0 {
			return b
		}
	}
	return b[i+1:]
}

// selfSignedCert makes a serving certificate for 127.0.0.1, in memory.
func selfSignedCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "testkubelet"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that clients can trust it as its own CA
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
