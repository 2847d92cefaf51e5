// Package rungroup runs sibling goroutines bound to one context, as
// golang.org/x/sync/errgroup does, with the one difference vmfleet's daemons
// need: a goroutine that returns nil (it had nothing to do, e.g. no Buildkite
// agents API configured) leaves its siblings running. The first error other
// than context.Canceled ends the group and is what Wait returns; a
// context.Canceled ends the group without being an error.
//
// It owns no goroutine of its own and must not log: callers decide what an
// error means.
package rungroup

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group is a set of sibling goroutines; its zero value is not usable: call New.
type Group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

// New returns a group and the context its goroutines should use: it is
// canceled when the first of them fails, when ctx ends, or by Wait.
func New(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &Group{cancel: cancel}, ctx
}

// Go runs f in a new goroutine. An error from f cancels the group's context;
// the first one that is not context.Canceled is kept for Wait.
func (g *Group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := f()
		if err == nil {
			return
		}
		if !errors.Is(err, context.Canceled) {
			g.once.Do(func() { g.err = err })
		}
		g.cancel()
	}()
}

// Wait waits for every goroutine, cancels the group's context and returns
// the first error (nil if none failed).
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// Drain waits for every wait in order, at most timeout; when the time is up
// it calls abandon (which must make the waits return, e.g. by canceling the
// work's context) and waits for them still. It reports whether it had to
// abandon the work.
func Drain(timeout time.Duration, abandon func(), waits ...func()) (abandoned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, w := range waits {
			w()
		}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		abandon()
		<-done
		return true
	}
}
