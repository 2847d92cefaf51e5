package orchestrator

import (
	"context"
	"runtime/pprof"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/rungroup"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
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
		{"health", func(ctx context.Context) error { return o.fleet.Follow(ctx, js, o.cfg.Instance) }},
		{"spec", func(ctx context.Context) error { return o.watchSpec(ctx, specKV) }},
		{"spec history", func(ctx context.Context) error { return o.prunes.FollowHistory(ctx, specKV) }},
		{"next", func(ctx context.Context) error { return o.watchNext(ctx, specKV) }},
		{"prunes", o.prunes.FollowOutcomes},
		{"agents", o.agents.Run},
		{"forgets", o.fleet.FollowForgets},
		{"obsolete builds", func(ctx context.Context) error { return o.cancelObsoleteLoop(ctx, specKV) }},
	}
	if o.builds.Watches() {
		ls = append(ls, namedLoop{"builds", o.builds.Watch})
	}
	return append(ls, namedLoop{"reconcile", o.loop})
}

// hostVerb is one host command verb as the reconcile pass and the drain see
// it: a pass resets it, has it derive its want from each non-stale host's
// report (reset and derive are nil for a verb whose wants the pass derives
// itself, like pulls and prunes), then hands it the wants; the drain waits
// for its commands.
type hostVerb struct {
	reset    func()
	derive   func(host string, h *events.HostHealth)
	dispatch func(ctx context.Context, w *wants, full bool)
	wait     func()
}

// verbOf feeds dispatcher d with the wants of(w) of every pass.
func verbOf[W, R any](d *hostcmd.Dispatcher[W, R], of func(*wants) []W) hostVerb {
	return hostVerb{
		dispatch: func(ctx context.Context, w *wants, full bool) { d.Dispatch(ctx, of(w), full) },
		wait:     d.Wait,
	}
}

// verbFor feeds dispatcher d with the want derive makes of each non-stale
// host's report in a pass, if any: a new verb's whole side in the core.
func verbFor[W, R any](d *hostcmd.Dispatcher[W, R], derive func(host string, h *events.HostHealth) (W, bool)) hostVerb {
	var ws []W // the pass's wants, owned by the loop
	return hostVerb{
		reset: func() { ws = ws[:0] },
		derive: func(host string, h *events.HostHealth) {
			if w, ok := derive(host, h); ok {
				ws = append(ws, w)
			}
		},
		dispatch: func(ctx context.Context, _ *wants, full bool) { d.Dispatch(ctx, ws, full) },
		wait:     d.Wait,
	}
}

// hostVerbs lists every host command verb, in the order a pass dispatches
// them; a new verb adds one entry (a verbFor of its dispatcher and derive,
// in a file of its own). New keeps the list in o.verbs.
func (o *Orchestrator) hostVerbs() []hostVerb {
	return []hostVerb{
		verbOf(o.pulls.Dispatcher, func(w *wants) []pullWant { return w.pulls }),
		verbOf(o.prunes.Dispatcher(), o.admitPrunes), // the disruption budget (prune.go)
	}
}

// waiters lists what the drain after Run waits for: the work in flight of
// every part (build calls, host commands); a part with work of its own adds
// one entry.
func (o *Orchestrator) waiters() []func() {
	ws := []func(){o.builds.Wait}
	for _, v := range o.verbs {
		ws = append(ws, v.wait)
	}
	return ws
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
