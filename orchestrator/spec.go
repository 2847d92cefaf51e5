package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// syncSpec publishes the configured spec to KV unless the stored one says the
// same, or an operator's `spec set` overrides a section of the config that
// did not change since (mergeConfigSpec); a follower only reads it.
func (o *Orchestrator) syncSpec(ctx context.Context, kv jetstream.KeyValue) error {
	want := o.cfg.Spec
	seed := readSeed(ctx, kv)
	e, err := kv.Get(ctx, events.SpecKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
	case err != nil:
		return fmt.Errorf("read spec from KV %s: %w", events.BucketSpec, err)
	default:
		stored, derr := decodeSpec(e.Value())
		if derr == nil {
			want = mergeConfigSpec(o.cfg.Spec, &stored, seed)
		}
		if derr == nil && sameSpec(stored, want) {
			stored.Revision = e.Revision()
			o.setSpec(stored)
			o.log.Info("spec in KV is current", "revision", e.Revision())
			if !sameSpec(stored, o.cfg.Spec) {
				o.log.Info("the spec set by an operator overrides the config file's until the config's images or cleanup change",
					"by", stored.UpdatedBy, "at", stored.UpdatedAt)
			}
			if !o.opts.isLeader() {
				return nil
			}
			return o.writeSeed(ctx, kv, o.cfg.Spec, seed)
		}
		if derr != nil {
			o.log.Warn("stored spec is invalid; replacing it", "err", derr)
		}
	}
	if !o.opts.isLeader() {
		return nil
	}
	want.UpdatedAt = o.now().UTC()
	if want.UpdatedBy == "" {
		want.UpdatedBy = o.opts.source
	}
	b, err := events.Encode(events.TypeSpec, o.opts.source, events.SpecKey, "", o.now(), want)
	if err != nil {
		return err
	}
	rev, err := kv.Put(ctx, events.SpecKey, b)
	if err != nil {
		return fmt.Errorf("publish spec to KV %s: %w", events.BucketSpec, err)
	}
	want.Revision = rev
	o.setSpec(want)
	o.log.Info("spec published", "revision", rev, "releases", want.Images.Releases,
		"bun", want.Images.BunVersion, "bootstrap", want.Images.BootstrapVersion, "registry", want.Images.Registry)
	return o.writeSeed(ctx, kv, o.cfg.Spec, seed)
}

// watchSpec follows the stored spec, so `vmfleet spec set` takes effect
// without a restart.
func (o *Orchestrator) watchSpec(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.Watch(ctx, events.SpecKey, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch spec: %w", err)
	}
	bus.Follow(ctx, w, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			return
		}
		s, err := decodeSpec(e.Value())
		if err != nil {
			o.log.Warn("ignoring invalid spec in KV", "revision", e.Revision(), "err", err)
			return
		}
		s.Revision = e.Revision()
		if cur := o.Spec(); cur.Revision != s.Revision {
			o.setSpec(s)
			o.log.Info("spec changed", "revision", s.Revision, "releases", s.Images.Releases)
			o.Trigger()
		}
	})
	return nil
}

func (o *Orchestrator) setSpec(s events.Spec) { o.spec.Store(&s) }

// decodeSpec and sameSpec are package rollout's, which the spec watches share.
var (
	decodeSpec = rollout.DecodeSpec
	sameSpec   = rollout.SameSpec
)
