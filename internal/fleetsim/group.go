package fleetsim

import (
	"context"
	"errors"
	"sync"
)

// errConverged ends a run that stops once the fleet converged.
var errConverged = errors.New("converged")

// group runs sibling goroutines bound to one context: the first error (or
// the first return, when stopOnReturn) cancels the others; Wait returns that
// error after every goroutine ended.
type group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

// Go runs f; an error from f other than context.Canceled ends the group.
func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			g.once.Do(func() { g.err = err })
			g.cancel()
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
