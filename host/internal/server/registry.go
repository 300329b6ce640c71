package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/sdk/agent/registry"
)

// followRegistry keeps the catalogue's etcd entries in step with the
// registry until ctx ends. The watch lists what is there first, so a
// restarted host rebuilds its catalogue; an agent whose lease expires or
// that deregisters drops out.
func followRegistry(ctx context.Context, r *config.Registry, cat *catalog.Catalog, log hclog.Logger) (stop func(), err error) {
	cfg := clientv3.Config{Endpoints: r.Endpoints, DialTimeout: r.DialTimeout, Logger: nil}
	if r.CAFile != "" || r.CertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: r.CAFile, CertFile: r.CertFile, KeyFile: r.KeyFile}
		var tlsCfg *tls.Config
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf(`registry "etcd" tls: %w`, err)
		}
		cfg.TLS = tlsCfg
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf(`registry "etcd": %w`, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	warn := func(msg string, args ...any) { log.Warn(msg, args...) }
	go func() {
		defer close(done)
		// full is set while the catalogue refuses etcd's entries for its
		// size: one warning then, not one per entry of a flood.
		full := false
		for ev := range registry.Watch(ctx, cli, r.Prefix, warn) {
			switch ev.Type {
			case registry.EventPut:
				e := ev.Entry
				a := catalog.Agent{ID: e.ID, Name: e.Name, Endpoint: e.Endpoint, Capabilities: e.Capabilities, Metadata: e.Metadata, Source: catalog.SourceEtcd}
				err := cat.Put(a)
				switch {
				case errors.Is(err, catalog.ErrFull) && full:
					log.Debug("skipping an agent from etcd: the catalogue is full", "id", e.ID)
					continue
				case errors.Is(err, catalog.ErrFull):
					full = true
					log.Warn("skipping agents from etcd: the catalogue is full; raise catalog.max_entries to take them (skipped agents come back when they register again)",
						"id", e.ID, "limit", "catalog.max_entries", "max_entries", cat.MaxEntries())
					continue
				case err != nil:
					log.Warn("skipping an agent from etcd", "id", e.ID, "error", err)
					continue
				}
				full = false
				log.Info("agent registered in etcd", "id", e.ID, "endpoint", e.Endpoint)
			case registry.EventDelete:
				if cat.Remove(catalog.SourceEtcd, ev.ID) == nil {
					log.Info("agent left etcd", "id", ev.ID)
				}
			}
		}
	}()
	log.Info("following the agent registry", "endpoints", r.Endpoints, "prefix", r.Prefix)
	return func() { cancel(); <-done; cli.Close() }, nil
}
