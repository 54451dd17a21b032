package policy

import (
	"context"
	"sync"
	"time"
)

// Decider answers a decision for one request: the OPA REST [Client], or the in-process
// [Evaluator] that runs the same policies.
type Decider interface {
	Decide(ctx context.Context, in Input) (Decision, error)
}

// Cache keeps each decision briefly. The key is exactly what the policy reads
// ([Input.CacheKey]), so a cached answer is the answer the policy would give; a trial decision
// is never kept past the trial's end, and errors are never kept at all.
type Cache struct {
	next    Decider
	ttl     time.Duration
	max     int
	observe func(hit bool, took time.Duration)

	mu      sync.RWMutex
	entries map[string]cachedDecision
}

type cachedDecision struct {
	decision Decision
	expires  time.Time
}

// DefaultCacheTTL is how long a decision is kept unless configured otherwise: long enough to
// spare the policy engine under load, short enough that a policy change shows at once.
const DefaultCacheTTL = time.Second

// maxCachedDecisions bounds the cache. The keys are few (roles × permissions × methods) unless
// tokens vary wildly; when the map does fill, starting afresh is cheaper and safer than tracking
// ages.
const maxCachedDecisions = 10_000

// NewCache caches next's decisions for ttl (0 or less: not at all). observe, when not nil, is
// told of every lookup: hit, or a miss and how long next took to answer it.
func NewCache(next Decider, ttl time.Duration, observe func(hit bool, took time.Duration)) *Cache {
	if observe == nil {
		observe = func(bool, time.Duration) {}
	}
	return &Cache{next: next, ttl: ttl, max: maxCachedDecisions, observe: observe, entries: map[string]cachedDecision{}}
}

// Decide returns the decision for in at the instant now, and whether it came from the cache.
func (c *Cache) Decide(ctx context.Context, in Input, now time.Time) (Decision, bool, error) {
	var key string
	if c.ttl > 0 {
		key = in.CacheKey()
		c.mu.RLock()
		e, ok := c.entries[key]
		c.mu.RUnlock()
		if ok && now.Before(e.expires) {
			c.observe(true, 0)
			return e.decision, true, nil
		}
	}
	t0 := time.Now()
	dec, err := c.next.Decide(ctx, in)
	c.observe(false, time.Since(t0))
	if err != nil || c.ttl <= 0 {
		return dec, false, err
	}
	expires := now.Add(c.ttl)
	if in.Trial.Mode {
		end, perr := time.Parse(time.RFC3339, in.Trial.ExpiresAt)
		if perr != nil || !end.After(now) {
			return dec, false, nil
		}
		if end.Before(expires) {
			expires = end
		}
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = cachedDecision{dec, expires}
	c.mu.Unlock()
	return dec, false, nil
}
