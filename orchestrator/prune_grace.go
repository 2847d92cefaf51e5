package orchestrator

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// specHistory is the spec keys' history as last read, and what prune plans
// take from it: the staged spec and the images in their removal grace.
type specHistory struct {
	hist []events.SpecRevision
	rev  uint64            // the last revision in hist
	next *events.ImageSpec // the staged spec (key next), nil when none
	// ret caches events.Retained(hist, now) over the span it cannot change.
	ret atomic.Pointer[retained]
}

// retained is events.Retained over a span [from, until) of the clock where
// it holds: entries only drop out (when the clock reaches their Until), so a
// set computed at from holds until its earliest Until.
type retained struct {
	imgs        []events.RetainedImages
	from, until time.Time // until zero: the (empty) set holds from then on
}

// retainedAt returns the images in their removal grace at now, computed
// again only when now left the span the last set holds over. The pointer is
// the same while the set is: plans cached with it stay valid.
func (h *specHistory) retainedAt(now time.Time) *retained {
	if r := h.ret.Load(); r != nil && !now.Before(r.from) && (r.until.IsZero() || now.Before(r.until)) {
		return r
	}
	r := &retained{imgs: events.Retained(h.hist, now), from: now}
	for _, ri := range r.imgs {
		if r.until.IsZero() || ri.Until.Before(r.until) {
			r.until = ri.Until
		}
	}
	h.ret.Store(r)
	return r
}

func newSpecHistory(hist []events.SpecRevision) *specHistory {
	h := &specHistory{hist: hist}
	for _, r := range hist {
		h.rev = max(h.rev, r.Revision)
	}
	if s := events.Latest(hist, events.NextSpecKey); s != nil {
		h.next = &s.Images
	}
	return h
}

// followSpecHistory keeps the spec keys' history (current and next, KV
// bucket vmfleet_spec) for the prune plans: read once at start and again
// after every change of either key (bus.SpecHistoryCache reads it only when
// the bucket moved). Until the first read no prune goes: a plan without the
// history would not know what is in its removal grace.
func (o *Orchestrator) followSpecHistory(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchFiltered(ctx, []string{events.SpecKey, events.NextSpecKey}, jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch spec history: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				initial = false // the current values are in: read once
			} else if initial {
				continue
			}
			o.loadSpecHistory(ctx, kv)
		}
	}
}

// loadSpecHistory reads the spec keys' history and puts it in force for the
// next pass; a failed read keeps the last one (agents re-check every prune
// with theirs).
func (o *Orchestrator) loadSpecHistory(ctx context.Context, kv jetstream.KeyValue) {
	hist, err := o.histCache.Load(ctx, kv)
	if err != nil {
		o.log.Warn("cannot read the spec history; prunes plan with the last one read", "err", err)
		return
	}
	if cur := o.specHist.Load(); cur != nil && len(cur.hist) == len(hist) && (len(hist) == 0 || &cur.hist[0] == &hist[0]) {
		return // the cache's slice: nothing changed
	}
	o.specHist.Store(newSpecHistory(hist))
	o.Trigger()
}

// pruneBudget is the disruption budget (cleanup.max_prune_hosts_fraction):
// the distinct hosts sent a window prune in one window occurrence, keyed by
// the occurrence's opening instant. Owned by the loop.
type pruneBudget struct {
	occ   time.Time
	hosts map[string]bool
	// logged: the hold-back was logged for this occurrence.
	logged bool
}

// budgetLimit is ceil(fraction × hosts), the budget of one occurrence.
func budgetLimit(fraction float64, hosts int) int {
	// The epsilon keeps 0.1 × 30 at 3, not 4.
	return int(math.Ceil(fraction*float64(hosts) - 1e-9))
}

// admit filters a pass's prune wants: window prunes of hosts already counted
// in the occurrence opened at occ go, and of new hosts while fewer than limit
// are counted (each admitted host counts, whether or not its prune is sent
// before the window closes); others are held back. Prunes outside the
// budget (disk emergencies) always go. It returns the wants that go (wants
// is reused) and how many were held back.
func (b *pruneBudget) admit(occ time.Time, limit int, wants []pruneWant) ([]pruneWant, int) {
	if !occ.Equal(b.occ) || b.hosts == nil {
		b.occ, b.hosts, b.logged = occ, map[string]bool{}, false
	}
	kept, held := wants[:0], 0
	for _, w := range wants {
		switch {
		case !w.budgeted, b.hosts[w.host]:
		case len(b.hosts) < limit:
			b.hosts[w.host] = true
		default:
			held++
			continue
		}
		kept = append(kept, w)
	}
	return kept, held
}

// remaining is how many more hosts the occurrence's budget admits.
func (b *pruneBudget) remaining(limit int) int { return max(limit-len(b.hosts), 0) }

// admitPrunes applies the disruption budget to the pass's prunes, just
// before they are dispatched; it sets the budget gauge and logs, once per
// occurrence, that the budget holds prunes back.
func (o *Orchestrator) admitPrunes(w *wants) []pruneWant {
	pv := &w.prune
	if pv.spec == nil {
		return w.prunes
	}
	hosts := o.nonStaleHosts
	if hosts == 0 {
		o.fleet.each(func(_ string, hs *hostState) {
			if !o.fleet.stale(hs, pv.now) {
				hosts++
			}
		})
	}
	limit := budgetLimit(pv.spec.Cleanup.PruneHostsFraction(), hosts)
	if !pv.window.Open {
		o.pruneMetrics.budget.Set(float64(limit))
		return w.prunes
	}
	var held int
	w.prunes, held = o.budget.admit(pv.window.Opens, limit, w.prunes)
	o.pruneMetrics.budget.Set(float64(o.budget.remaining(limit)))
	if held > 0 && !o.budget.logged {
		o.budget.logged = true
		o.log.Info("prune budget reached: hosts held back until the next window",
			"window_opened", pv.window.Opens, "limit", limit, "non_stale_hosts", hosts,
			"fraction", pv.spec.Cleanup.PruneHostsFraction(), "held_back", held)
	}
	return w.prunes
}
