package orchestrator

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
)

// term is this orchestrator's time as the leader: the context its actions
// (Buildkite calls, commands, record writes) run in, cancelled the moment it
// stops leading, and the adoption that runs when a term begins.
type term struct {
	mu     sync.Mutex
	work   context.Context // Run's: outlives Run's ctx for the bounded drain
	ctx    context.Context // the current term's; nil while not leading
	cancel context.CancelFunc
	began  prometheus.Counter
	lease  *lease.Lease // nil: leadership comes from WithLeader alone
}

// initTerm registers the leadership metrics and hooks the lease's changes to
// a reconcile pass. Called by New.
func (o *Orchestrator) initTerm() error {
	const ns, sub = "vmfleet", "orchestrator"
	o.term.began = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "leader_terms_total", Help: "Terms this orchestrator began as the leader."})
	leading := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "leader", Help: "1 while this orchestrator leads (acts), 0 while it follows."},
		func() float64 {
			if o.opts.isLeader() {
				return 1
			}
			return 0
		})
	for _, c := range []prometheus.Collector{o.term.began, leading} {
		if err := o.reg.Register(c); err != nil {
			return err
		}
	}
	if l := o.opts.lease; l != nil {
		o.term.lease = l
		l.OnChange(func(bool) { o.Trigger() })
	}
	return nil
}

// startLease runs the lease, if any, for the life of Run: one attempt at
// once (so a lone orchestrator publishes its spec and acts from its first
// pass), then its loop. The returned stop hands the lease back; Run calls it
// after the drain.
func (o *Orchestrator) startLease(ctx context.Context) (stop func()) {
	l := o.term.lease
	if l == nil {
		return func() {}
	}
	l.Step(ctx)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(lctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// termContext is called at every reconcile pass: it begins a term when this
// orchestrator has just become the leader, ends it when it has just stopped,
// and returns the context to act in and whether to act.
func (o *Orchestrator) termContext(fallback context.Context) (context.Context, bool) {
	lead := o.opts.isLeader()
	t := &o.term
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case lead && t.ctx == nil:
		parent := t.work
		if parent == nil {
			parent = fallback
		}
		t.ctx, t.cancel = context.WithCancel(parent)
		t.began.Inc()
		o.beginTerm(t.ctx)
	case !lead && t.ctx != nil:
		t.cancel()
		t.ctx, t.cancel = nil, nil
		o.log.Warn("no longer the leader: stopped acting; builds and commands in flight abandoned")
	}
	return t.ctx, lead
}

// beginTerm is a new leader's adoption (docs/reliability.md, the
// leader lease): it re-reads every build record from KV (the cache follows KV,
// but a watch may have missed writes), marks records whose create the last
// leader may have had in flight as in doubt, so Buildkite is asked (builds
// listed by vmfleet-key meta-data) before anything is created again, and
// has every live build polled on the next full pass.
func (o *Orchestrator) beginTerm(ctx context.Context) {
	n := 0
	if o.builds.Store() != nil {
		rctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
		if err := o.builds.Load(rctx); err != nil {
			o.log.Warn("leading: cannot re-read build records; using the cache", "err", err)
		}
		cancel()
		n = o.builds.AdoptAll()
	}
	o.log.Info("leading: acting from now on", "instance", o.cfg.Instance, "live_builds", n)
	o.Trigger()
}

// drain ends Run: new work has stopped; it waits for work in flight (build
// calls, pull and prune commands) at most cfg.DrainTimeout, then abandons
// the rest. The lease is handed back after it.
func (o *Orchestrator) drain(cancelWork context.CancelFunc, waits ...func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, w := range waits {
			w()
		}
	}()
	t := time.NewTimer(o.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		o.log.Warn("work in flight did not finish within the drain timeout; abandoning it", "timeout", o.cfg.DrainTimeout)
		cancelWork()
		<-done
	}
	cancelWork()
	o.term.mu.Lock()
	if o.term.cancel != nil {
		o.term.cancel()
		o.term.ctx, o.term.cancel = nil, nil
	}
	o.term.mu.Unlock()
}

// Leadership returns who leads, as this orchestrator knows it.
func (o *Orchestrator) Leadership() lease.Status {
	return lease.StatusOf(o.term.lease, o.cfg.Instance, o.opts.isLeader())
}
