package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// SeedKey is the key of bucket vmfleet_spec holding the spec of the
// orchestrator's configuration as last published (see mergeConfigSpec).
// Agents read only events.SpecKey.
const SeedKey = "config"

// SpecUpdate is POST /api/v1/spec: an operator's `vmfleet spec set`. Unset
// fields keep their value.
type SpecUpdate struct {
	BootstrapVersion *string  `json:"bootstrap_version,omitempty"`
	BunVersion       *string  `json:"bun_version,omitempty"`
	Releases         []string `json:"releases,omitempty"`
	// Registry "" switches to building on each host.
	Registry *string `json:"registry,omitempty"`
	// By names the operator (events.Spec.UpdatedBy).
	By string `json:"by,omitempty"`
	// AutoPromote, for a stage (POST /api/v1/spec/next) only, is the share
	// of non-stale hosts that must hold every staged image before the
	// orchestrator promotes it (events.Spec.AutoPromote); unset: by hand.
	AutoPromote *float64 `json:"auto_promote,omitempty"`
}

func (u SpecUpdate) apply(s events.Spec) events.Spec {
	if u.BootstrapVersion != nil {
		s.Images.BootstrapVersion = *u.BootstrapVersion
	}
	if u.BunVersion != nil {
		s.Images.BunVersion = *u.BunVersion
	}
	if u.Releases != nil {
		s.Images.Releases = slices.Clone(u.Releases)
	}
	if u.Registry != nil {
		s.Images.Registry = *u.Registry
	}
	return s
}

// SetSpec applies an operator's update to the spec in KV (compare-and-set on
// its revision, retried on a race) and puts it in force at once: agents
// re-check, builds for the new images start, and build keys of the new
// images that were blocked start again from attempt 1. An update that
// changes nothing writes nothing. The result is the spec in force.
func (o *Orchestrator) SetSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	switch {
	case !o.started.Load():
		return events.Spec{}, ErrStarting
	case !o.opts.isLeader():
		return events.Spec{}, ErrNotLeader
	}
	for range 5 {
		cur, rev, err := o.storedSpec(ctx)
		if err != nil {
			return events.Spec{}, err
		}
		next := u.apply(cur)
		if err := ValidateSpec(next); err != nil {
			return events.Spec{}, err
		}
		if rev != 0 && sameSpec(cur, next) {
			return cur, nil
		}
		next.UpdatedAt, next.UpdatedBy = o.now().UTC(), u.By
		if next.UpdatedBy == "" {
			next.UpdatedBy = "api"
		}
		b, err := events.Encode(events.TypeSpec, o.opts.source, events.SpecKey, "", o.now(), next)
		if err != nil {
			return events.Spec{}, err
		}
		kctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
		if rev == 0 {
			rev, err = o.specKV.Create(kctx, events.SpecKey, b)
		} else {
			rev, err = o.specKV.Update(kctx, events.SpecKey, b, rev)
		}
		cancel()
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another writer: apply the update to its spec
		}
		if err != nil {
			return events.Spec{}, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
		}
		next.Revision = rev
		o.adoptSpec(next)
		o.log.Info("spec set", "by", next.UpdatedBy, "revision", rev, "releases", next.Images.Releases,
			"bun", next.Images.BunVersion, "bootstrap", next.Images.BootstrapVersion, "registry", next.Images.Registry)
		o.unblockImages(ctx, next.Images)
		o.Trigger()
		return next, nil
	}
	return events.Spec{}, fmt.Errorf("spec in KV %s keeps changing under us: retry", events.BucketSpec)
}

// storedSpec reads the spec in KV; rev is 0 when there is none (or it does
// not decode), and the spec in force is returned instead.
func (o *Orchestrator) storedSpec(ctx context.Context) (events.Spec, uint64, error) {
	kctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	e, err := o.specKV.Get(kctx, events.SpecKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return o.Spec(), 0, nil
	case err != nil:
		return events.Spec{}, 0, fmt.Errorf("read spec from KV %s: %w", events.BucketSpec, err)
	}
	s, err := decodeSpec(e.Value())
	if err != nil {
		// Replace what cannot be read, at its revision.
		s = o.Spec()
	}
	s.Revision = e.Revision()
	return s, e.Revision(), nil
}

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

// unblockImages starts again, from attempt 1, the blocked build keys of the
// spec's images: an operator who sets a spec wants its images built (keys of
// images new to the spec have no record and need nothing).
func (o *Orchestrator) unblockImages(ctx context.Context, im events.ImageSpec) {
	want := map[string]bool{}
	for _, r := range im.Releases {
		want[im.ImageName(r)] = true
	}
	for _, r := range o.builds.Records() {
		if r.State != events.BuildBlocked || !want[r.Image] {
			continue
		}
		if _, err := o.builds.Retry(ctx, r.Key); err != nil {
			o.log.Warn("cannot unblock build key after spec set", "build", r.Key, "err", err)
			continue
		}
		o.log.Info("build key unblocked by spec set", "build", r.Key)
	}
}

// mergeConfigSpec decides the spec at start (docs/orchestrator.md: the orchestrator
// owns the spec, from its config file or `vmfleet spec set`). Per section
// (images, cleanup): the configuration's when it changed since it was last
// published (seed) or when nothing is known; otherwise the stored one, so
// an operator's `spec set` survives restarts until the config's own section
// changes.
func mergeConfigSpec(cfg events.Spec, stored, seed *events.Spec) events.Spec {
	if stored == nil || seed == nil {
		return cfg
	}
	out := cfg
	if sameSpec(events.Spec{Images: cfg.Images}, events.Spec{Images: seed.Images}) {
		out.Images = stored.Images
	}
	if sameSpec(events.Spec{Cleanup: cfg.Cleanup}, events.Spec{Cleanup: seed.Cleanup}) {
		out.Cleanup = stored.Cleanup
	}
	if sameSpec(out, *stored) {
		out.UpdatedAt, out.UpdatedBy = stored.UpdatedAt, stored.UpdatedBy
	}
	return out
}

// readSeed returns the config spec last published, or nil.
func readSeed(ctx context.Context, kv jetstream.KeyValue) *events.Spec {
	e, err := kv.Get(ctx, SeedKey)
	if err != nil {
		return nil
	}
	s, err := decodeSpec(e.Value())
	if err != nil {
		return nil
	}
	return &s
}

// writeSeed records the config's spec as published (leader only).
func (o *Orchestrator) writeSeed(ctx context.Context, kv jetstream.KeyValue, cfg events.Spec, seed *events.Spec) error {
	if seed != nil && sameSpec(*seed, cfg) {
		return nil
	}
	b, err := events.Encode(events.TypeSpec, o.opts.source, SeedKey, "", o.now(), cfg)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, SeedKey, b); err != nil {
		return fmt.Errorf("record the config's spec in KV %s: %w", events.BucketSpec, err)
	}
	return nil
}
