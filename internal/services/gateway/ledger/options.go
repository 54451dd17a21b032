package ledger

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClientOptions parses REDIS_URL (redis://[:password@]host:port/db) into client options
// that make a dead Redis fail fast instead of being retried: the gateway answers within its
// budget and applies BUDGET_FAIL_MODE rather than waiting out go-redis's defaults (a 5 s dial
// timeout, 5 dial attempts, 3 command retries).
func ClientOptions(redisURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		// A *url.Error quotes the whole URL, password included; keep only its reason.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout = 100 * time.Millisecond
	opts.DialerRetries = 1 // one attempt: go-redis reads 0 as its default of 5
	opts.ReadTimeout = 150 * time.Millisecond
	opts.WriteTimeout = 150 * time.Millisecond
	opts.PoolTimeout = 150 * time.Millisecond // waiting for a busy pool counts against the same budget
	opts.ContextTimeoutEnabled = true         // the caller's deadline bounds every step
	opts.MaxRetries = -1                      // no retries: go-redis reads 0 as its default of 3
	opts.PoolSize = 64
	opts.MinIdleConns = 2
	return opts, nil
}
