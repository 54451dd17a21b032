package logs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Stream passes to emit the entries of sources that opts selects: the backlogs of all
// services sorted by time (stable, so lines of one time keep their order), then, with
// opts.Follow, new entries as they come until ctx is done. emit is called from one
// goroutine at a time; an error from it stops the stream and is returned. Following
// ends without error when ctx is done. The filters of opts apply here too, so a source
// that forgets one cannot leak an entry past --correlation-id.
func Stream(ctx context.Context, sources []Source, opts Options, emit func(Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	backlogs := make([][]Entry, len(sources))
	follows := make([]FollowFunc, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Go(func() {
			backlogs[i], follows[i], errs[i] = src.Read(ctx, opts)
		})
	}
	wg.Wait()
	// release lets the FollowFuncs free what Read holds: with ctx done they return at once.
	release := func() {
		cancel()
		_ = followAll(ctx, follows, func(Entry) {})
	}
	if err := errors.Join(errs...); err != nil {
		release()
		return err
	}

	for _, e := range mergeByTime(backlogs) {
		if !opts.Match(e) {
			continue
		}
		if err := emit(e); err != nil {
			release()
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	return follow(ctx, cancel, follows, opts, emit)
}

// follow runs the sources' FollowFuncs and hands their entries to emit one at a time.
func follow(ctx context.Context, cancel context.CancelFunc, follows []FollowFunc, opts Options, emit func(Entry) error) error {
	live := make(chan Entry)
	done := make(chan error, 1)
	go func() {
		done <- followAll(ctx, follows, func(e Entry) {
			select {
			case live <- e:
			case <-ctx.Done():
			}
		})
	}()
	for {
		select {
		case e := <-live:
			if !opts.Match(e) {
				continue
			}
			if err := emit(e); err != nil {
				cancel()
				<-done
				return err
			}
		case err := <-done:
			return err
		}
	}
}

// followAll runs every FollowFunc until ctx is done or one of them fails, which stops
// the others.
func followAll(ctx context.Context, follows []FollowFunc, emit func(Entry)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(follows))
	var wg sync.WaitGroup
	for i, follow := range follows {
		if follow == nil {
			continue
		}
		wg.Go(func() {
			if errs[i] = follow(ctx, emit); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// mergeByTime sorts the entries of all backlogs by time, stably. An entry without a time
// sorts with the entry before it in its own backlog, so an unreadable line stays beside
// its neighbours instead of jumping to the top.
func mergeByTime(backlogs [][]Entry) []Entry {
	type keyed struct {
		at time.Time
		e  Entry
	}
	var all []keyed
	for _, backlog := range backlogs {
		var last time.Time
		for _, e := range backlog {
			if !e.Time.IsZero() {
				last = e.Time
			}
			all = append(all, keyed{at: last, e: e})
		}
	}
	slices.SortStableFunc(all, func(a, b keyed) int { return a.at.Compare(b.at) })
	merged := make([]Entry, len(all))
	for i, k := range all {
		merged[i] = k.e
	}
	return merged
}
