package orchestrator

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// SeedKey is the key of bucket vmfleet_spec holding the spec of the
// orchestrator's configuration as last published (rollout.SeedKey).
const SeedKey = rollout.SeedKey

// SpecUpdate is POST /api/v1/spec: an operator's `vmfleet spec set`
// (package rollout).
type SpecUpdate = rollout.SpecUpdate

// SpecPromote is POST /api/v1/spec/promote (package rollout).
type SpecPromote = rollout.SpecPromote

// SetSpec applies an operator's update to the spec and puts it in force at
// once (rollout.Ops.SetSpec).
func (o *Orchestrator) SetSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	return o.rollout().SetSpec(ctx, u)
}

// rollout is the spec operations of package rollout over this core.
func (o *Orchestrator) rollout() *rollout.Ops {
	return &rollout.Ops{Core: rolloutCore{o}, Source: o.opts.source, Now: o.now, Timeout: o.cfg.RequestTimeout,
		Log: o.log, Fleet: o.previewFleet}
}

// rolloutCore is the core as package rollout sees it.
type rolloutCore struct{ o *Orchestrator }

func (c rolloutCore) KV() jetstream.KeyValue { return c.o.specKV }
func (c rolloutCore) Spec() events.Spec      { return c.o.Spec() }
func (c rolloutCore) Writable() error {
	if err := c.o.writable(); err != nil {
		return err
	}
	if c.o.specKV == nil {
		return errNoSpecKV // offline.go
	}
	return nil
}
func (c rolloutCore) AdoptSpec(s events.Spec)            { c.o.adoptSpec(s) }
func (c rolloutCore) SetNext(s *events.Spec, rev uint64) { c.o.setNext(s, rev) }
func (c rolloutCore) UnblockImages(ctx context.Context, im events.ImageSpec) {
	c.o.builds.Unblock(ctx, im)
}
func (c rolloutCore) Trigger() { c.o.Trigger() }

// adoptSpec puts s in force unless a newer revision already is (the KV
// watch may have delivered a later write first).
func (o *Orchestrator) adoptSpec(s events.Spec) {
	for {
		cur := o.spec.Load()
		if cur.Revision >= s.Revision && cur.Revision != 0 {
			return
		}
		if o.spec.CompareAndSwap(cur, &s) {
			return
		}
	}
}
