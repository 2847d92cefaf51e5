package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// ErrNoStagedSpec means there is no staged spec (KV key next) to promote.
var ErrNoStagedSpec = errors.New("no staged spec: stage one first (vmfleet spec stage)")

// ErrNothingStaged means a stage would leave the images as they are.
var ErrNothingStaged = errors.New("the staged spec would ask for the images in force: nothing to roll out")

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

// StageSpec records a staged spec (KV key next): the spec in force with the
// update applied, validated. It replaces any staged spec. Hosts keep the
// current images and get the staged ones beside them (builds and pulls
// after the current spec's needs); `PromoteSpec` makes it current. An
// update that leaves the images as they are is refused (ErrNothingStaged).
func (o *Orchestrator) StageSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	if err := o.writable(); err != nil {
		return events.Spec{}, err
	}
	cur, _, err := o.storedSpec(ctx)
	if err != nil {
		return events.Spec{}, err
	}
	next := u.apply(cur)
	if u.AutoPromote != nil {
		next.AutoPromote = *u.AutoPromote
	}
	if err := ValidateSpec(next); err != nil {
		return events.Spec{}, err
	}
	if sameSpec(events.Spec{Images: cur.Images}, events.Spec{Images: next.Images}) {
		return events.Spec{}, fmt.Errorf("%w: %w", events.ErrInvalid, ErrNothingStaged)
	}
	next.UpdatedAt, next.UpdatedBy, next.Revision = o.now().UTC(), u.By, 0
	if next.UpdatedBy == "" {
		next.UpdatedBy = "api"
	}
	b, err := events.Encode(events.TypeSpec, o.opts.source, events.NextSpecKey, "", o.now(), next)
	if err != nil {
		return events.Spec{}, err
	}
	kctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	rev, err := o.specKV.Put(kctx, events.NextSpecKey, b)
	cancel()
	if err != nil {
		return events.Spec{}, fmt.Errorf("write staged spec to KV %s: %w", events.BucketSpec, err)
	}
	o.setNext(&next, rev)
	next.Revision = rev
	o.log.Info("spec staged", "by", next.UpdatedBy, "revision", rev, "releases", next.Images.Releases,
		"bun", next.Images.BunVersion, "bootstrap", next.Images.BootstrapVersion, "registry", next.Images.Registry,
		"auto_promote", next.AutoPromote)
	o.unblockImages(ctx, next.Images)
	o.Trigger()
	return next, nil
}

// PromoteSpec makes the staged spec current: it writes it under key current
// (compare-and-set on its revision) and deletes key next. by names who
// promotes ("" keeps the stager's name). The result is the spec in force.
func (o *Orchestrator) PromoteSpec(ctx context.Context, by string) (events.Spec, error) {
	if err := o.writable(); err != nil {
		return events.Spec{}, err
	}
	for range 5 {
		kctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
		e, err := o.specKV.Get(kctx, events.NextSpecKey)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return events.Spec{}, ErrNoStagedSpec
		case err != nil:
			return events.Spec{}, fmt.Errorf("read staged spec from KV %s: %w", events.BucketSpec, err)
		}
		staged, err := decodeSpec(e.Value())
		if err != nil {
			return events.Spec{}, fmt.Errorf("the staged spec (revision %d) is invalid: %w", e.Revision(), err)
		}
		_, rev, err := o.storedSpec(ctx)
		if err != nil {
			return events.Spec{}, err
		}
		promoted := staged
		promoted.AutoPromote = 0
		promoted.UpdatedAt = o.now().UTC()
		if by != "" {
			promoted.UpdatedBy = by
		}
		b, err := events.Encode(events.TypeSpec, o.opts.source, events.SpecKey, "", o.now(), promoted)
		if err != nil {
			return events.Spec{}, err
		}
		kctx, cancel = context.WithTimeout(ctx, o.cfg.RequestTimeout)
		if rev == 0 {
			rev, err = o.specKV.Create(kctx, events.SpecKey, b)
		} else {
			rev, err = o.specKV.Update(kctx, events.SpecKey, b, rev)
		}
		cancel()
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return events.Spec{}, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
		}
		promoted.Revision = rev
		o.adoptSpec(promoted)
		// Delete the staged spec only if it is still the one promoted: a
		// stage that came in meanwhile is a new rollout.
		kctx, cancel = context.WithTimeout(ctx, o.cfg.RequestTimeout)
		derr := o.specKV.Delete(kctx, events.NextSpecKey, jetstream.LastRevision(e.Revision()))
		cancel()
		if derr == nil {
			o.setNext(nil, 0)
		} else {
			o.log.Warn("promoted, but the staged spec was not deleted", "err", derr)
		}
		o.log.Info("spec promoted", "by", promoted.UpdatedBy, "revision", rev, "from_staged", e.Revision(),
			"releases", promoted.Images.Releases, "bun", promoted.Images.BunVersion, "bootstrap", promoted.Images.BootstrapVersion)
		o.unblockImages(ctx, promoted.Images)
		o.Trigger()
		return promoted, nil
	}
	return events.Spec{}, fmt.Errorf("spec in KV %s keeps changing under us: retry", events.BucketSpec)
}

// UnstageSpec deletes the staged spec (the rollout is abandoned; its images
// are left to the cleanup rules). Without a staged spec it does nothing.
func (o *Orchestrator) UnstageSpec(ctx context.Context) error {
	if err := o.writable(); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	if err := o.specKV.Delete(kctx, events.NextSpecKey); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete staged spec from KV %s: %w", events.BucketSpec, err)
	}
	o.setNext(nil, 0)
	o.log.Info("staged spec deleted: no rollout in progress")
	o.Trigger()
	return nil
}

// stagedReady reports whether h holds every image of the staged spec next
// ready, checked against that very revision.
func stagedReady(h *events.HostHealth, next *events.Spec) bool {
	if h.NextRevision != next.Revision || len(h.Staged) == 0 {
		return false
	}
	for _, r := range next.Images.Releases {
		st, ok := h.StagedStatus(r)
		if !ok || !st.Ready || st.ExpectedImage != next.Images.ImageName(r) {
			return false
		}
	}
	return true
}

// autoPromote promotes the staged spec once its AutoPromote share of the
// non-stale hosts (at least one) hold every staged image (leader only;
// called by the summary with the counts it made).
func (o *Orchestrator) autoPromote(ctx context.Context, next *events.Spec, ready, live int) {
	if next == nil || next.AutoPromote <= 0 || live == 0 || !o.opts.isLeader() || !o.started.Load() {
		return
	}
	if ready < int(math.Ceil(next.AutoPromote*float64(live))) {
		return
	}
	o.log.Info("auto-promoting the staged spec", "revision", next.Revision, "ready_hosts", ready, "hosts", live, "share", next.AutoPromote)
	pctx, cancel := context.WithTimeout(ctx, 2*o.cfg.RequestTimeout+time.Second)
	defer cancel()
	if _, err := o.PromoteSpec(pctx, "auto-promote"); err != nil && !errors.Is(err, ErrNoStagedSpec) {
		o.log.Warn("auto-promote failed; retrying at the next pass", "err", err)
	}
}
