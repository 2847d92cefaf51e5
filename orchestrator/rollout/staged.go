package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// Staged is the staged spec in force (KV key next); nil: no rollout in
// progress. The zero value is ready to use.
type Staged struct{ p atomic.Pointer[events.Spec] }

// Load is the staged spec in force, or nil; callers must not change it.
func (st *Staged) Load() *events.Spec { return st.p.Load() }

// Set puts the staged spec s (nil: none) in force unless a newer
// revision already is.
func (st *Staged) Set(s *events.Spec, rev uint64) {
	for {
		cur := st.p.Load()
		if cur != nil && rev != 0 && cur.Revision > rev {
			return
		}
		var p *events.Spec
		if s != nil {
			c := *s
			c.Revision = rev
			p = &c
		}
		if st.p.CompareAndSwap(cur, p) {
			return
		}
	}
}

// Watch follows key next of the spec bucket: the staged spec whose
// images the reconcile pass wants after the current spec's. A delete (or
// purge) ends the rollout; an invalid value is ignored (the last good one
// stays).
func (st *Staged) Watch(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger, trigger func()) error {
	w, err := kv.Watch(ctx, events.NextSpecKey)
	if err != nil {
		return fmt.Errorf("watch staged spec: %w", err)
	}
	bus.Follow(ctx, w, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			if st.p.Load() != nil {
				st.Set(nil, 0)
				log.Info("staged spec gone: no rollout in progress", "revision", e.Revision())
				trigger()
			}
			return
		}
		s, err := DecodeSpec(e.Value())
		if err != nil {
			log.Warn("ignoring invalid staged spec in KV", "revision", e.Revision(), "err", err)
			return
		}
		if cur := st.p.Load(); cur == nil || cur.Revision != e.Revision() {
			st.Set(&s, e.Revision())
			log.Info("staged spec", "revision", e.Revision(), "releases", s.Images.Releases,
				"bun", s.Images.BunVersion, "bootstrap", s.Images.BootstrapVersion, "auto_promote", s.AutoPromote)
			trigger()
		}
	})
	return nil
}
