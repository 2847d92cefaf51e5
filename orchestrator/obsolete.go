package orchestrator

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// cancelObsoleteLoop cancels on Buildkite, every tick while this
// orchestrator leads, the live builds no active spec wants any more
// (builds.Manager.CancelUnwanted: their image is in neither the current nor
// the staged spec), so a spec change that drops a release frees the build
// slots its builds held (docs/orchestrator.md#builds). kv is bucket
// vmfleet_spec, read again before any cancel.
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

// cancelObsolete is one round of cancelObsoleteLoop.
func (o *Orchestrator) cancelObsolete(ctx context.Context, kv jetstream.KeyValue) {
	tctx, lead := o.termContext(ctx)
	if !lead || !o.fleet.CaughtUp() {
		return
	}
	cur, next := o.Spec(), o.next.Load()
	mem := []*events.ImageSpec{&cur.Images}
	if next != nil {
		mem = append(mem, &next.Images)
	}
	stored := func(ctx context.Context) ([]*events.ImageSpec, error) {
		return rollout.StoredImages(ctx, kv, o.cfg.RequestTimeout)
	}
	if err := o.builds.CancelUnwanted(tctx, mem, stored); err != nil {
		o.log.Warn("obsolete builds", "err", err)
	}
}
