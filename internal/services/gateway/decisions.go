package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waooaw/waooaw/internal/policy"
)

// decider asks OPA for decisions and keeps each briefly. The key is exactly what the policy
// reads (policy.Input.CacheKey), so a cached answer is the answer OPA would give; a trial
// decision is never kept past the trial's end, and errors are never kept at all.
type decider struct {
	client  *policy.Client
	ttl     time.Duration
	max     int
	latency prometheus.Observer
	hits    prometheus.Counter
	misses  prometheus.Counter

	mu      sync.RWMutex
	entries map[string]cachedDecision
}

type cachedDecision struct {
	decision policy.Decision
	expires  time.Time
}

func newDecider(client *policy.Client, ttl time.Duration, m *gatewayMetrics) *decider {
	return &decider{
		client: client, ttl: ttl, max: 10_000,
		latency: m.opaLatency,
		hits:    m.cache.WithLabelValues("hit"),
		misses:  m.cache.WithLabelValues("miss"),
		entries: map[string]cachedDecision{},
	}
}

// decide returns the decision for in, and whether it came from the cache.
func (d *decider) decide(ctx context.Context, in policy.Input, now time.Time) (policy.Decision, bool, error) {
	var key string
	if d.ttl > 0 {
		key = in.CacheKey()
		d.mu.RLock()
		e, ok := d.entries[key]
		d.mu.RUnlock()
		if ok && now.Before(e.expires) {
			d.hits.Inc()
			return e.decision, true, nil
		}
		d.misses.Inc()
	}
	t0 := time.Now()
	dec, err := d.client.Decide(ctx, in)
	d.latency.Observe(time.Since(t0).Seconds())
	if err != nil || d.ttl <= 0 {
		return dec, false, err
	}
	expires := now.Add(d.ttl)
	if in.Trial.Mode {
		end, perr := time.Parse(time.RFC3339, in.Trial.ExpiresAt)
		if perr != nil || !end.After(now) {
			return dec, false, nil
		}
		if end.Before(expires) {
			expires = end
		}
	}
	d.mu.Lock()
	if len(d.entries) >= d.max {
		// The keys are few (roles × permissions × methods) unless tokens vary wildly; when the
		// map does fill, starting afresh is cheaper and safer than tracking ages.
		clear(d.entries)
	}
	d.entries[key] = cachedDecision{dec, expires}
	d.mu.Unlock()
	return dec, false, nil
}
