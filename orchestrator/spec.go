package orchestrator

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// syncSpec publishes the configured spec to KV unless the stored one says
// the same or an operator's override stands (rollout.Ops.Sync); a follower
// only reads it.
func (o *Orchestrator) syncSpec(ctx context.Context, kv jetstream.KeyValue) error {
	return o.rollout().Sync(ctx, kv, o.cfg.Spec, o.opts.isLeader(), o.setSpec)
}

// watchSpec follows the stored spec, so `vmfleet spec set` takes effect
// without a restart (rollout.Ops.WatchCurrent).
func (o *Orchestrator) watchSpec(ctx context.Context, kv jetstream.KeyValue) error {
	return o.rollout().WatchCurrent(ctx, kv, o.setSpec)
}

func (o *Orchestrator) setSpec(s events.Spec) { o.spec.Store(&s) }
