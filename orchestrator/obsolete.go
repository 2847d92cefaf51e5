package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
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
	mem := builds.ActiveImages(&cur.Images, imagesOf(next))
	if o.builds.CountObsolete(func(img string) bool { return mem[img] }) == 0 {
		return
	}
	stored, err := storedActiveImages(ctx, kv, o.cfg.RequestTimeout)
	if err != nil {
		o.log.Warn("cannot read the spec to confirm obsolete builds; none cancelled", "err", err)
		return
	}
	o.builds.CancelObsolete(tctx, func(img string) bool { return mem[img] || stored[img] })
}

// buildCancelled counts a cancel Buildkite accepted.
func (o *Orchestrator) buildCancelled(r *builds.Record) {
	o.metrics.cancelled.WithLabelValues(r.Cancel).Inc()
}

func imagesOf(s *events.Spec) *events.ImageSpec {
	if s == nil {
		return nil
	}
	return &s.Images
}

// storedActiveImages reads the images of the stored current and staged
// specs (an absent or unreadable value wants nothing).
func storedActiveImages(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration) (map[string]bool, error) {
	var specs []*events.ImageSpec
	for _, key := range []string{events.SpecKey, events.NextSpecKey} {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		e, err := kv.Get(rctx, key)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue
		case err != nil:
			return nil, fmt.Errorf("read spec key %s: %w", key, err)
		}
		if s, err := decodeSpec(e.Value()); err == nil {
			specs = append(specs, &s.Images)
		}
	}
	return builds.ActiveImages(specs...), nil
}
