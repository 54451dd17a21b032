package ledger

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batching. Every budgeted request runs the reserve script once, and used to pay a Redis round
// trip of its own for it: a write, a read that finds nothing yet, a park, a wake-up and a second
// read in the gateway, and as much again in redis-server. Under load that was the largest part
// of what the gateway adds to a request. So the scripts of requests that arrive together travel
// together: each is still its own EVALSHA, atomic on its own, answered to its own caller, but up
// to maxBatch of them share one pipelined round trip.
//
// There is no background goroutine and no waiting for company. A request that finds a round trip
// free takes it at once, with whatever other scripts are queued (usually none: an idle gateway
// sends each script alone, exactly as before). Only while maxRoundTrips round trips are already
// in flight do new scripts queue; the first of their callers to get a free round trip sends the
// whole queue.
//
// One round trip in flight batches best: redis-server runs one command at a time anyway, and
// with two the scripts of a loaded gateway went in batches a third smaller, costing redis-server
// about a fifth more CPU per script. The price is latency: a script that just missed a round
// trip waits for that one to come back before it goes (tens of microseconds on loopback).
const (
	maxRoundTrips = 1   // round trips in flight at once
	maxBatch      = 128 // scripts in one pipeline
)

// reserveBatcher sends reserve scripts to Redis, batching those of concurrent requests.
type reserveBatcher struct {
	rdb    redis.UniversalClient
	script *redis.Script
	lanes  chan struct{} // a token per round trip in flight

	mu    sync.Mutex
	queue []*scriptCall // waiting for a round trip, oldest first
}

// scriptCall is one request's script, and once it has run, the answer.
type scriptCall struct {
	ctx  context.Context
	keys []string
	args []any

	sent bool // guarded by reserveBatcher.mu: taken from the queue into a round trip

	done  chan struct{} // closed once reply and err are set
	reply []int64
	err   error
}

func newReserveBatcher(rdb redis.UniversalClient, script *redis.Script) *reserveBatcher {
	return &reserveBatcher{rdb: rdb, script: script, lanes: make(chan struct{}, maxRoundTrips)}
}

// run runs the script with keys and args and returns its reply. It returns when the reply is
// in or ctx ends, whichever is first; a script that was already sent when ctx ended may still
// run, as a single EVALSHA whose answer is lost may.
func (b *reserveBatcher) run(ctx context.Context, keys []string, args []any) ([]int64, error) {
	c := &scriptCall{ctx: ctx, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	lanes := b.lanes // nil once c is sent by another caller: then only wait for the answer
	for {
		select {
		case <-c.done:
			return c.reply, c.err
		default:
		}
		select {
		case <-c.done:
			return c.reply, c.err
		case <-ctx.Done():
			b.mu.Lock()
			if i := slices.Index(b.queue, c); i >= 0 {
				b.queue = slices.Delete(b.queue, i, i+1)
			}
			b.mu.Unlock()
			return nil, context.Cause(ctx)
		case lanes <- struct{}{}:
			if !b.sendQueued(c) {
				// Another caller's round trip carries c. The scripts still queued have
				// callers of their own waiting for a round trip, so leave them to those.
				lanes = nil
			}
		}
	}
}

// sendQueued sends up to maxBatch queued scripts in the round trip the caller has taken, and
// then gives the round trip back. It reports false, sending nothing, when c has already been
// sent by another caller.
func (b *reserveBatcher) sendQueued(c *scriptCall) bool {
	defer func() { <-b.lanes }()
	b.mu.Lock()
	if c.sent {
		b.mu.Unlock()
		return false
	}
	n := min(len(b.queue), maxBatch)
	batch := slices.Clone(b.queue[:n])
	b.queue = slices.Delete(b.queue, 0, n)
	for _, queued := range batch {
		queued.sent = true
	}
	b.mu.Unlock()
	b.send(batch)
	return true
}

// send runs the batch's scripts in one round trip (one alone as a plain EVALSHA) and hands each
// caller its answer. A script Redis does not know (it restarted) is sent again on its own with
// its source, which Redis then keeps.
func (b *reserveBatcher) send(batch []*scriptCall) {
	if len(batch) == 1 {
		c := batch[0]
		c.reply, c.err = b.script.Run(c.ctx, b.rdb, c.keys, c.args...).Int64Slice()
		close(c.done)
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	cmds := make([]*redis.Cmd, len(batch))
	pipe := b.rdb.Pipeline()
	for i, c := range batch {
		cmds[i] = b.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		c.reply, c.err = cmds[i].Int64Slice()
		if errors.Is(c.err, redis.ErrNoScript) || redis.HasErrorPrefix(c.err, "NOSCRIPT") {
			c.reply, c.err = b.script.Run(ctx, b.rdb, c.keys, c.args...).Int64Slice()
		}
		close(c.done)
	}
}

// batchContext bounds a shared round trip by the latest deadline of its callers: no caller's
// own cancellation may fail the others' scripts, and each caller stops waiting at its own
// deadline anyway.
func batchContext(batch []*scriptCall) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(batch[0].ctx))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}
