package orchestrator

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// ErrNoStagedSpec means there is no staged spec (KV key next) to promote.
var ErrNoStagedSpec = rollout.ErrNoStagedSpec

// ErrNothingStaged means a stage would leave the images as they are.
var ErrNothingStaged = rollout.ErrNothingStaged

// Next is the staged spec (KV key next), or nil when no rollout is in
// progress.
func (o *Orchestrator) Next() *events.Spec {
	if s := o.next.Load(); s != nil {
		c := *s
		return &c
	}
	return nil
}

// setNext puts the staged spec s (nil: none) in force unless a newer
// revision already is.
func (o *Orchestrator) setNext(s *events.Spec, rev uint64) {
	for {
		cur := o.next.Load()
		if cur != nil && rev != 0 && cur.Revision > rev {
			return
		}
		var p *events.Spec
		if s != nil {
			c := *s
			c.Revision = rev
			p = &c
		}
		if o.next.CompareAndSwap(cur, p) {
			return
		}
	}
}

// watchNext follows key next of the spec bucket: the staged spec whose
// images the reconcile pass wants after the current spec's. A delete (or
// purge) ends the rollout; an invalid value is ignored (the last good one
// stays).
func (o *Orchestrator) watchNext(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.Watch(ctx, events.NextSpecKey)
	if err != nil {
		return fmt.Errorf("watch staged spec: %w", err)
	}
	bus.Follow(ctx, w, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			if o.next.Load() != nil {
				o.setNext(nil, 0)
				o.log.Info("staged spec gone: no rollout in progress", "revision", e.Revision())
				o.Trigger()
			}
			return
		}
		s, err := decodeSpec(e.Value())
		if err != nil {
			o.log.Warn("ignoring invalid staged spec in KV", "revision", e.Revision(), "err", err)
			return
		}
		if cur := o.next.Load(); cur == nil || cur.Revision != e.Revision() {
			o.setNext(&s, e.Revision())
			o.log.Info("staged spec", "revision", e.Revision(), "releases", s.Images.Releases,
				"bun", s.Images.BunVersion, "bootstrap", s.Images.BootstrapVersion, "auto_promote", s.AutoPromote)
			o.Trigger()
		}
	})
	return nil
}

// writable says whether this orchestrator may change the spec now.
func (o *Orchestrator) writable() error {
	switch {
	case !o.started.Load():
		return ErrStarting
	case !o.opts.isLeader():
		return ErrNotLeader
	}
	return nil
}

// StageSpec records a staged spec (KV key next) beside the spec in force
// (rollout.Ops.StageSpec).
func (o *Orchestrator) StageSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	return o.rollout().StageSpec(ctx, u)
}

// PromoteSpec makes the staged spec current (rollout.Ops.PromoteSpec).
func (o *Orchestrator) PromoteSpec(ctx context.Context, by string) (events.Spec, error) {
	return o.rollout().PromoteSpec(ctx, by)
}

// UnstageSpec deletes the staged spec (rollout.Ops.UnstageSpec).
func (o *Orchestrator) UnstageSpec(ctx context.Context) error { return o.rollout().UnstageSpec(ctx) }

// stagedReady is rollout.StagedReady.
var stagedReady = rollout.StagedReady

// autoPromote promotes the staged spec once enough hosts hold it
// (rollout.Ops.AutoPromote; called by the summary with the counts it made).
func (o *Orchestrator) autoPromote(ctx context.Context, next *events.Spec, ready, live int) {
	o.rollout().AutoPromote(ctx, next, ready, live)
}
