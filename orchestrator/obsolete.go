package orchestrator

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// cancelObsoleteLoop cancels on Buildkite, every tick while this
// orchestrator leads, the live builds no active spec wants any more
// (builds.Obsolete: their image is in neither the current nor the staged
// spec), so a spec change that drops a release frees the build slots its
// builds held (docs/orchestrator.md#builds). kv is bucket vmfleet_spec.
func (o *Orchestrator) cancelObsoleteLoop(ctx context.Context, kv jetstream.KeyValue) error {
	t := time.NewTicker(o.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			o.cancelObsolete(ctx, kv)
		}
	}
}

// cancelObsolete is one round of cancelObsoleteLoop. The specs in memory
// name the candidates; the spec keys are read again before any cancel, so
// a watch not caught up yet (a new leader before its first read of the
// staged spec) never cancels the builds of a spec in force.
func (o *Orchestrator) cancelObsolete(ctx context.Context, kv jetstream.KeyValue) {
	tctx, lead := o.termContext(ctx)
	if !lead || !o.caughtUp.Load() {
		return
	}
	cur, next := o.Spec(), o.next.Load()
	specs := []*events.ImageSpec{&cur.Images}
	if next != nil {
		specs = append(specs, &next.Images)
	}
	mem := builds.ActiveImages(specs...)
	if o.builds.CountObsolete(func(img string) bool { return mem[img] }) == 0 {
		return
	}
	specs, err := rollout.StoredImages(ctx, kv, o.cfg.RequestTimeout)
	if err != nil {
		o.log.Warn("cannot read the spec to confirm obsolete builds; none cancelled", "err", err)
		return
	}
	stored := builds.ActiveImages(specs...)
	o.builds.CancelObsolete(tctx, func(img string) bool { return mem[img] || stored[img] })
}

// buildCancelled counts a cancel Buildkite accepted.
func (o *Orchestrator) buildCancelled(r *builds.Record) {
	o.metrics.cancelled.WithLabelValues(r.Cancel).Inc()
}
