package engine

import (
	"context"
	"errors"
)

// prefetchTarget reads the target's accounts in the background from the
// moment plan or drift starts, so that the target read (mostly waiting on
// the ftrack server) overlaps the source reads (mostly waiting on the
// directory) instead of following them. ReadAccounts returns that one
// result; every other method is the wrapped target's.
type prefetchTarget struct {
	Target
	done  chan struct{}
	accts []Account
	err   error
}

// prefetch starts t.ReadAccounts(ctx) at once. The caller cancels ctx and
// calls wait before returning, so the read never outlives the request. A
// failed read calls fail, so the source reads stop early instead of
// reading a whole directory for a plan that cannot be made.
func prefetch(ctx context.Context, t Target, fail func()) *prefetchTarget {
	p := &prefetchTarget{Target: t, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.accts, p.err = t.ReadAccounts(ctx)
		if p.err != nil {
			fail()
		}
	}()
	return p
}

// ReadAccounts returns the prefetched accounts.
func (p *prefetchTarget) ReadAccounts(ctx context.Context) ([]Account, error) {
	select {
	case <-p.done:
		return p.accts, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *prefetchTarget) unwrap() Target { return p.Target }

// wait blocks until the background read has returned.
func (p *prefetchTarget) wait() { <-p.done }

// withPrefetch runs fn with target replaced by a prefetching one. When the
// target read fails, fn is cancelled and the target's error is returned,
// not the cancellation it caused.
func withPrefetch[T any](ctx context.Context, target Target, fn func(ctx context.Context, t Target) (T, error)) (T, error) {
	if target == nil {
		return fn(ctx, target)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := prefetch(ctx, target, cancel)
	defer p.wait()
	defer cancel()
	v, err := fn(ctx, p)
	if err == nil {
		return v, nil
	}
	if ctx.Err() != nil {
		// fn may have seen the cancellation a failed target read causes
		// before the read's goroutine finished: wait for it, so that the
		// target's error is the one reported.
		p.wait()
	}
	select {
	case <-p.done:
		if p.err != nil && !errors.Is(p.err, context.Canceled) && !errors.Is(p.err, context.DeadlineExceeded) {
			return v, namedError("target", target.Info().Name, p.err)
		}
	default:
	}
	return v, err
}
