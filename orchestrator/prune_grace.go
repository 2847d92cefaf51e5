package orchestrator

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

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
	if cur := o.specHist.Load(); cur != nil && len(cur.Hist) == len(hist) && (len(hist) == 0 || &cur.Hist[0] == &hist[0]) {
		return // the cache's slice: nothing changed
	}
	o.specHist.Store(prunes.NewHistory(hist))
	o.specChanges.Note(hist, o.announceSpecChange)
	o.Trigger()
}

// admitPrunes applies the disruption budget to the pass's prunes, just
// before they are dispatched; it sets the budget gauge and logs, once per
// occurrence, that the budget holds prunes back.
func (o *Orchestrator) admitPrunes(w *wants) []pruneWant {
	pv := &w.prune
	if pv.Spec == nil {
		return w.prunes
	}
	hosts := o.nonStaleHosts
	if hosts == 0 {
		o.fleet.each(func(_ string, hs *hostState) {
			if !o.fleet.stale(hs, pv.Now) {
				hosts++
			}
		})
	}
	limit := prunes.Limit(pv.Spec.Cleanup.PruneHostsFraction(), hosts)
	if !pv.Window.Open {
		o.pruneMetrics.Budget.Set(float64(limit))
		return w.prunes
	}
	var held int
	w.prunes, held = prunes.Admit(&o.budget, pv.Window.Opens, limit, w.prunes, budgetKey)
	o.pruneMetrics.Budget.Set(float64(o.budget.Remaining(limit)))
	if held > 0 && !o.budget.Logged {
		o.budget.Logged = true
		o.log.Info("prune budget reached: hosts held back until the next window",
			"window_opened", pv.Window.Opens, "limit", limit, "non_stale_hosts", hosts,
			"fraction", pv.Spec.Cleanup.PruneHostsFraction(), "held_back", held)
	}
	return w.prunes
}

// budgetKey is what the disruption budget reads of a prune want.
func budgetKey(w pruneWant) (string, bool) { return w.host, w.budgeted }
