package testcluster

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// startEtcd runs a one-member etcd inside the test process, on ports the
// OS picks, and returns its client URL. It stops at the test's cleanup.
// Embedding it saves building and starting one more binary; the API server
// talks to it over TCP as it would to any etcd.
func startEtcd(t testing.TB, dir string) string {
	t.Helper()
	logPath := filepath.Join(dir, "etcd.log")
	showTailOnFailure(t, "etcd", logPath)

	cfg := embed.NewConfig()
	cfg.Name = "testcluster"
	cfg.Dir = filepath.Join(dir, "etcd")
	// Port 0 everywhere: the listeners get free ports, and the member's
	// own name for itself (the advertised peer URL in the initial cluster)
	// only has to match, not to be dialled, with no other member.
	free := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{free}
	cfg.AdvertiseClientUrls = []url.URL{free}
	cfg.ListenPeerUrls = []url.URL{free}
	cfg.AdvertisePeerUrls = []url.URL{free}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{logPath}
	// The data is thrown away with the test; fsync would only slow it.
	cfg.UnsafeNoFsync = true

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("etcd failed: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("etcd was not ready after a minute")
	}
	return fmt.Sprintf("http://%s", e.Clients[0].Addr())
}
