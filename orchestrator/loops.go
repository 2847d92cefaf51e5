package orchestrator

import (
	"context"
	"runtime/pprof"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/internal/rungroup"
)

// namedLoop is one of Run's goroutines: it runs until ctx ends. Returning
// nil (nothing to do) leaves the others running; an error ends Run. The
// name labels its goroutines in profiles (pprof label "loop").
type namedLoop struct {
	name string
	run  func(ctx context.Context) error
}

// loops lists every goroutine Run starts, in order; a part of the
// orchestrator with a loop of its own adds one entry. js and specKV are
// Run's.
func (o *Orchestrator) loops(js jetstream.JetStream, specKV jetstream.KeyValue) []namedLoop {
	ls := []namedLoop{
		{"health", func(ctx context.Context) error { return o.followHealth(ctx, js) }},
		{"spec", func(ctx context.Context) error { return o.watchSpec(ctx, specKV) }},
		{"prunes", o.followPrunes},
		{"agents", o.runAgents},
	}
	if kv, ok := o.builds.store.(kvStore); ok {
		ls = append(ls, namedLoop{"builds", func(ctx context.Context) error { return o.watchBuilds(ctx, kv.kv) }})
	}
	return append(ls,
		namedLoop{"reconcile", o.loop},
		namedLoop{"sse", o.hub.run},
	)
}

// waiters lists what the drain after Run waits for: the work in flight of
// every part (build calls, host commands); a part with work of its own adds
// one entry.
func (o *Orchestrator) waiters() []func() {
	return []func(){o.builds.wait, o.pulls.Wait, o.prunes.Wait}
}

// startLoops starts every loop of ls in g, with ctx.
func startLoops(ctx context.Context, g *rungroup.Group, ls []namedLoop) {
	for _, l := range ls {
		g.Go(func() error {
			var err error
			pprof.Do(ctx, pprof.Labels("loop", l.name), func(ctx context.Context) { err = l.run(ctx) })
			return err
		})
	}
}
