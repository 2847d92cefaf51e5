package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// The core's side of pruning (package orchestrator/prunes holds the rest):
// the Manager made in New, each host's prune derived in the pass
// (deriveHost), the disruption budget's base counted, and the operator's
// prune and the host view checked against the fleet state.

// initPrunes makes the pruning Manager; New calls it once the config, the
// clock and the registry are set.
func (o *Orchestrator) initPrunes() error {
	var err error
	o.prunes, err = prunes.New(o.cfg.Prunes, prunes.Deps{Now: o.now, Log: o.log, Reg: o.reg, Client: o.commands(), Wake: o.Trigger, Changed: o.observers.changed,
		HistoryRead: func(hist []events.SpecRevision) { o.specChanges.Note(hist, o.announceSpecChange) }})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return nil
}

// pruneView is the cleanup side of a pass at now (prunes.Manager.View).
func (o *Orchestrator) pruneView(now time.Time) prunes.View {
	return o.prunes.View(o.spec.Load(), o.next.Load(), now)
}

// admitPrunes is the pass's prunes that the disruption budget lets go.
func (o *Orchestrator) admitPrunes(w *wants) []prunes.Want {
	return o.prunes.Admit(w.prunes, &w.prune, func() int {
		n := o.nonStaleHosts // the last summary's count
		if n == 0 {
			o.fleet.Each(func(_ string, hs *hosts.State) {
				if !o.fleet.Stale(hs, w.prune.Now) {
					n++
				}
			})
		}
		return n
	})
}

// PruneHost plans a host's prune now, from its last report, and sends it
// when the plan prunes something; it waits for the agent's reply
// (prunes.Manager.Host). The host must be known and not stale.
func (o *Orchestrator) PruneHost(ctx context.Context, host string, req prunes.HostRequest) (prunes.HostResponse, error) {
	if err := o.writable(); err != nil {
		return prunes.HostResponse{}, err
	}
	if err := prunes.CheckRequest(req); err != nil {
		return prunes.HostResponse{}, err
	}
	hs := o.fleet.Get(host)
	now := o.now()
	switch {
	case hs == nil:
		return prunes.HostResponse{}, fmt.Errorf("%w: %q", prunes.ErrUnknownHost, host)
	case o.fleet.Stale(hs, now):
		return prunes.HostResponse{}, fmt.Errorf("%w: %s was last seen %s", prunes.ErrHostStale, host, hs.LastSeen.UTC().Format("2006-01-02T15:04:05Z"))
	}
	pv := o.pruneView(now)
	return o.prunes.Host(ctx, host, hs.Health, &pv, req)
}

// RecentPrunes returns the latest prune outcomes fleet-wide, newest first.
func (o *Orchestrator) RecentPrunes() []events.PruneOutcome { return o.prunes.Recent() }
