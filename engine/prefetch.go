package engine

import "context"

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
// calls wait before returning, so the read never outlives the request.
func prefetch(ctx context.Context, t Target) *prefetchTarget {
	p := &prefetchTarget{Target: t, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.accts, p.err = t.ReadAccounts(ctx)
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

// wait blocks until the background read has returned.
func (p *prefetchTarget) wait() { <-p.done }

// withPrefetch runs fn with req's target replaced by a prefetching one.
func withPrefetch[T any](ctx context.Context, target Target, fn func(ctx context.Context, t Target) (T, error)) (T, error) {
	if target == nil {
		return fn(ctx, target)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := prefetch(ctx, target)
	defer p.wait()
	defer cancel()
	return fn(ctx, p)
}
