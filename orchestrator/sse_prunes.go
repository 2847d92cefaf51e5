package orchestrator

import (
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
)

// pruneRing keeps the latest prune outcomes agents published, for the
// dashboard.
type pruneRing struct {
	mu    sync.Mutex
	max   int
	items []events.PruneOutcome // oldest first
}

func newPruneRing(n int) *pruneRing { return &pruneRing{max: n} }

func (p *pruneRing) add(o events.PruneOutcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = append(p.items, o)
	if len(p.items) > p.max {
		p.items = slices.Delete(p.items, 0, len(p.items)-p.max)
	}
}

// list returns the outcomes, newest first.
func (p *pruneRing) list() []events.PruneOutcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.items)
	slices.Reverse(out)
	if out == nil {
		out = []events.PruneOutcome{}
	}
	return out
}

// followPrunes subscribes to <prefix>.prune.> (core NATS: from now on) and
// returns the unsubscribe. Malformed outcomes are ignored here; the
// orchestrator's ingest is what counts rejects.
func (h *hub) followPrunes() func() {
	nc := h.o.nc
	if nc == nil {
		return func() {}
	}
	sub, err := nc.Subscribe(h.o.subj.Prefix+".prune.>", func(m *nats.Msg) {
		env, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		out, err := events.DecodeData[events.PruneOutcome](env, events.TypePrune)
		if err != nil {
			return
		}
		h.prunes.add(out)
		h.poke()
	})
	if err != nil {
		h.log.Warn("dashboard: cannot follow prune outcomes", "err", err)
		return func() {}
	}
	return func() { _ = sub.Unsubscribe() }
}
