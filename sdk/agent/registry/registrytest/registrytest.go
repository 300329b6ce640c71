// Package registrytest runs a real etcd inside a test process, for tests of
// the registry and of the host that watches it.
package registrytest

import (
	"bytes"
	"net/url"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// startTimeout is generous: a loaded 2-core CI machine can be slow to
// elect the single member.
const startTimeout = time.Minute

// Start runs a single-member etcd on 127.0.0.1 with free ports and its data
// in a temporary directory, and returns a client for it. Both are closed
// when the test ends. cli.Endpoints() gives the addresses for more clients
// (see NewClient).
func Start(t testing.TB) *clientv3.Client {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "registrytest"
	cfg.Dir = t.TempDir()
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(testLogger(t, "etcd"))
	// Nothing here has to survive a power cut, and fsync is most of the
	// time a write takes.
	cfg.UnsafeNoFsync = true
	// Port 0: the kernel picks a free port when etcd listens. A single
	// member never dials its own peer URL, so the advertised ":0" is only
	// a name that must match the initial cluster.
	local := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{local}
	cfg.AdvertiseClientUrls = []url.URL{local}
	cfg.ListenPeerUrls = []url.URL{local}
	cfg.AdvertisePeerUrls = []url.URL{local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("registrytest: start etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		t.Fatalf("registrytest: etcd failed: %v", err)
	case <-time.After(startTimeout):
		t.Fatalf("registrytest: etcd not ready after %v", startTimeout)
	}

	var endpoints []string
	for _, l := range srv.Clients {
		endpoints = append(endpoints, "http://"+l.Addr().String())
	}
	return NewClient(t, endpoints)
}

// NewClient returns another client of the etcd at endpoints, closed when
// the test ends unless the test closes it first, e.g. to act out a crash.
func NewClient(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      testLogger(t, "etcd client"),
	})
	if err != nil {
		t.Fatalf("registrytest: etcd client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// testLogger keeps warnings and errors in memory and shows them only if the
// test fails. etcd logs errors on every normal shutdown, and its client
// warns on every reconnect, which tests of failures cause on purpose.
func testLogger(t testing.TB, name string) *zap.Logger {
	buf := &logBuffer{}
	// Registered before whatever logs to buf, so it runs after that is
	// closed and the log is complete.
	t.Cleanup(func() {
		if t.Failed() && buf.String() != "" {
			t.Logf("registrytest: %s log:\n%s", name, buf.String())
		}
	})
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, buf, zap.WarnLevel))
}

// logBuffer is a zapcore.WriteSyncer that the server's goroutines can
// share.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Sync() error { return nil }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
