package gateway

import (
	"time"

	"github.com/waooaw/waooaw/internal/policy"
)

// newDecider asks OPA for decisions through a short-lived cache, counting hits and misses and
// timing OPA's round trips.
func newDecider(client *policy.Client, ttl time.Duration, m *gatewayMetrics) *policy.Cache {
	hits, misses := m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	return policy.NewCache(client, ttl, func(hit bool, took time.Duration) {
		if hit {
			hits.Inc()
			return
		}
		misses.Inc()
		m.opaLatency.Observe(took.Seconds())
	})
}
