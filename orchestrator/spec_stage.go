package orchestrator

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
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
// revision already is (rollout.Staged.Set).
func (o *Orchestrator) setNext(s *events.Spec, rev uint64) { o.next.Set(s, rev) }

// watchNext follows key next of the spec bucket (rollout.Staged.Watch).
func (o *Orchestrator) watchNext(ctx context.Context, kv jetstream.KeyValue) error {
	return o.next.Watch(ctx, kv, o.log, o.Trigger)
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
func (o *Orchestrator) PromoteSpec(ctx context.Context, p SpecPromote) (events.Spec, error) {
	return o.rollout().PromoteSpec(ctx, p)
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
