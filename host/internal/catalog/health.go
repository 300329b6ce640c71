package catalog

import (
	"context"
	"sync"
	"time"
)

// Checker asks one agent whether it is healthy: the Agent protocol's
// HealthCheck, or GET /health.
type Checker func(ctx context.Context, a Agent) error

// Monitor health-checks the registered agents every interval until ctx
// ends, all at once, each bounded by timeout. When an agent's health
// changes, the catalogue records it and changed hears of it, with the
// failure's error.
func (c *Catalog) Monitor(ctx context.Context, every, timeout time.Duration, check Checker, changed func(a Agent, err error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c.checkAll(ctx, timeout, check, changed)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (c *Catalog) checkAll(ctx context.Context, timeout time.Duration, check Checker, changed func(Agent, error)) {
	var wg sync.WaitGroup
	for _, a := range c.Registered() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := check(cctx, a)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if c.SetHealth(a.ID, err == nil, time.Now()) && changed != nil {
				a.Healthy = err == nil
				changed(a, err)
			}
		}()
	}
	wg.Wait()
}
