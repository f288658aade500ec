package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxHealthBody is how much of a health check answer is read (and thrown
// away) so that the connection can be reused.
const maxHealthBody = 64 << 10

// CheckNow runs one round of active health checks on every target, in
// parallel, and applies the results before returning. It does nothing when
// health checks are off. The background loop calls it every interval; tests
// call it directly instead of waiting.
func (u *Upstream) CheckNow(ctx context.Context) {
	if u.health == nil {
		return
	}
	var wg sync.WaitGroup
	for _, t := range u.targets {
		wg.Go(func() {
			pass := u.probe(ctx, t)
			if ctx.Err() != nil {
				return // stopping: a cancelled check says nothing about the target
			}
			u.observe(t, pass)
		})
	}
	wg.Wait()
}

// probe GETs the target's health URL; any 2xx answer within the timeout
// passes. Redirects are not followed.
func (u *Upstream) probe(ctx context.Context, t *target) bool {
	ctx, cancel := context.WithTimeout(ctx, u.health.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.healthURL, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "portcullis-health-check")
	resp, err := u.transport.RoundTrip(req)
	if err != nil {
		u.log.Debug("health check failed", "api", u.api, "target", t.raw, "error", err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthBody))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

func (u *Upstream) healthLoop(ctx context.Context) {
	defer close(u.done)
	tick := time.NewTicker(u.health.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			u.CheckNow(ctx)
		}
	}
}

// Close stops the health checks, waits for a running round to end and
// closes idle upstream connections. Requests in flight are not interrupted
// and ServeHTTP keeps working (without active checks), so a retired
// upstream can drain. Close is idempotent and always returns nil.
func (u *Upstream) Close() error {
	u.closeOnce.Do(func() {
		if u.stop != nil {
			u.stop()
			<-u.done
		}
		u.h1.CloseIdleConnections() // and u.transport's
		u.tunnels.closeAll()
	})
	return nil
}
