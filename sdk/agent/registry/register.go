package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrClosed is what Registration.Err returns after Close.
var ErrClosed = errors.New("registry: registration closed")

// Delays between attempts to register again after the lease was lost.
const (
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 5 * time.Second
)

// Registration keeps one entry registered until Close. If the lease is lost
// (etcd expired it because it did not hear from us for longer than the TTL,
// or someone revoked it), the registration puts the entry back under a new
// lease, retrying until it succeeds or Close is called.
type Registration struct {
	cli   *clientv3.Client
	key   string
	value string
	ttl   int64 // seconds, as etcd counts them

	stop context.CancelFunc // ends the keep-alive loop
	done chan struct{}      // closed when the keep-alive loop has returned

	mu    sync.Mutex
	lease clientv3.LeaseID // changes when the loop registers again
	err   error            // set before done is closed

	closeOnce sync.Once
	closeErr  error
}

// Register validates e, writes it as JSON under Key(prefix, e.ID) with a
// lease of ttl, and keeps the lease alive until Close. etcd counts TTLs in
// whole seconds, so ttl is rounded up to whole seconds, at least one, and
// etcd may raise it to its own minimum (2 s with default settings).
//
// ctx bounds only the calls that Register makes; the registration itself
// lasts until Close, or until cli is closed, which a crash amounts to: the
// key then goes when the lease expires.
func Register(ctx context.Context, cli *clientv3.Client, prefix string, e Entry, ttl time.Duration) (*Registration, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	value, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("registry: encode entry %q: %w", e.ID, err)
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &Registration{
		cli:   cli,
		key:   Key(prefix, e.ID),
		value: string(value),
		ttl:   ttlSeconds(ttl),
		stop:  stop,
		done:  make(chan struct{}),
	}
	keepAlive, err := r.establish(ctx, life)
	if err != nil {
		stop()
		return nil, err
	}
	go r.run(life, keepAlive)
	return r, nil
}

func ttlSeconds(ttl time.Duration) int64 {
	s := int64((ttl + time.Second - 1) / time.Second)
	return max(s, 1)
}

// establish grants a lease, puts the entry under it and starts keeping it
// alive. Calls are bounded by ctx; the keep-alive runs until life ends.
func (r *Registration) establish(ctx, life context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	grant, err := r.cli.Grant(ctx, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("registry: grant lease for %s: %w", r.key, err)
	}
	// From here on a failure leaves a lease behind; revoke it rather than
	// wait for it to expire. Best effort: it expires anyway.
	revoke := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = r.cli.Revoke(rctx, grant.ID)
	}
	if _, err := r.cli.Put(ctx, r.key, r.value, clientv3.WithLease(grant.ID)); err != nil {
		revoke()
		return nil, fmt.Errorf("registry: put %s: %w", r.key, err)
	}
	keepAlive, err := r.cli.KeepAlive(life, grant.ID)
	if err != nil {
		revoke()
		return nil, fmt.Errorf("registry: keep lease of %s alive: %w", r.key, err)
	}
	r.mu.Lock()
	r.lease = grant.ID
	r.mu.Unlock()
	return keepAlive, nil
}

// run drains the keep-alive channel, which etcd's client needs: when
// nobody reads it, the client logs a warning for every renewal it cannot
// deliver. When the channel closes without Close having been called, the
// lease is gone and run registers again.
func (r *Registration) run(life context.Context, keepAlive <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	for {
		for range keepAlive {
		}
		var err error
		keepAlive, err = r.reestablish(life)
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
	}
}

// reestablish registers again with growing delays between attempts. It
// fails only when Close was called or the client was closed.
func (r *Registration) reestablish(life context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	delay := minRetryDelay
	for {
		if life.Err() != nil {
			return nil, ErrClosed
		}
		if err := r.cli.Ctx().Err(); err != nil {
			return nil, fmt.Errorf("registry: etcd client closed, %s is no longer kept alive: %w", r.key, err)
		}
		// Bound each attempt so that an unreachable etcd means another
		// try, not a call that hangs.
		ctx, cancel := context.WithTimeout(life, time.Duration(r.ttl)*time.Second+maxRetryDelay)
		keepAlive, err := r.establish(ctx, life)
		cancel()
		if err == nil {
			return keepAlive, nil
		}
		select {
		case <-life.Done():
		case <-r.cli.Ctx().Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// Done is closed when the registration has ended for good: after Close, or
// once the etcd client was closed. A lost lease alone does not close it,
// since the registration puts the entry back.
func (r *Registration) Done() <-chan struct{} {
	return r.done
}

// Err is nil while Done is open. Then it is ErrClosed after Close, or says
// that the client was closed.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close deregisters: it stops renewing the lease and revokes it, which
// deletes the key at once, so watchers see the agent leave without waiting
// for the TTL. If the revoke fails (etcd unreachable, ctx done), the key
// still goes when the lease expires. Later calls return the first result.
func (r *Registration) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.stop()
		// Wait for run, so the lease cannot change while we revoke it.
		<-r.done
		r.mu.Lock()
		lease := r.lease
		r.mu.Unlock()
		_, err := r.cli.Revoke(ctx, lease)
		// Not found means the lease expired already, and the key with it.
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.closeErr = fmt.Errorf("registry: revoke lease of %s: %w", r.key, err)
		}
	})
	return r.closeErr
}
