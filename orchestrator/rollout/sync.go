package rollout

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// Sync publishes the configured spec cfg to KV (key current) unless the
// stored one says the same, or an operator's `spec set` overrides a section
// of the config that did not change since (MergeConfigSpec); a follower
// (leader false) only reads it. set puts the spec read or written in force.
func (p *Ops) Sync(ctx context.Context, kv jetstream.KeyValue, cfg events.Spec, leader bool, set func(events.Spec)) error {
	want := cfg
	seed := ReadSeed(ctx, kv)
	e, err := kv.Get(ctx, events.SpecKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
	case err != nil:
		return fmt.Errorf("read spec from KV %s: %w", events.BucketSpec, err)
	default:
		stored, derr := DecodeSpec(e.Value())
		if derr == nil {
			want = MergeConfigSpec(cfg, &stored, seed)
		}
		if derr == nil && SameSpec(stored, want) {
			stored.Revision = e.Revision()
			set(stored)
			p.Log.Info("spec in KV is current", "revision", e.Revision())
			if !SameSpec(stored, cfg) {
				p.Log.Info("the spec set by an operator overrides the config file's until the config's images or cleanup change",
					"by", stored.UpdatedBy, "at", stored.UpdatedAt)
			}
			if !leader {
				return nil
			}
			return WriteSeed(ctx, kv, p.Source, p.Now(), cfg, seed)
		}
		if derr != nil {
			p.Log.Warn("stored spec is invalid; replacing it", "err", derr)
		}
	}
	if !leader {
		return nil
	}
	want.UpdatedAt = p.Now().UTC()
	if want.UpdatedBy == "" {
		want.UpdatedBy = p.Source
	}
	b, err := events.Encode(events.TypeSpec, p.Source, events.SpecKey, "", p.Now(), want)
	if err != nil {
		return err
	}
	rev, err := kv.Put(ctx, events.SpecKey, b)
	if err != nil {
		return fmt.Errorf("publish spec to KV %s: %w", events.BucketSpec, err)
	}
	want.Revision = rev
	set(want)
	p.Log.Info("spec published", "revision", rev, "releases", want.Images.Releases,
		"bun", want.Images.BunVersion, "bootstrap", want.Images.BootstrapVersion, "registry", want.Images.Registry)
	return WriteSeed(ctx, kv, p.Source, p.Now(), cfg, seed)
}

// WatchCurrent follows the stored spec (key current), so `vmfleet spec set`
// or a hand edit of KV takes effect without a restart: set puts each new
// valid revision in force and a reconcile pass is asked for.
func (p *Ops) WatchCurrent(ctx context.Context, kv jetstream.KeyValue, set func(events.Spec)) error {
	w, err := kv.Watch(ctx, events.SpecKey, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch spec: %w", err)
	}
	bus.Follow(ctx, w, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			return
		}
		s, err := DecodeSpec(e.Value())
		if err != nil {
			p.Log.Warn("ignoring invalid spec in KV", "revision", e.Revision(), "err", err)
			return
		}
		s.Revision = e.Revision()
		if cur := p.Core.Spec(); cur.Revision != s.Revision {
			set(s)
			p.Log.Info("spec changed", "revision", s.Revision, "releases", s.Images.Releases)
			p.Core.Trigger()
		}
	})
	return nil
}
