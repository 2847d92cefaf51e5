package orchestrator

import (
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// pruneView is the cleanup side of one reconcile pass (package prunes).
type pruneView = prunes.View

// windows returns the spec's parsed cleanup windows, parsed once per spec.
// A spec whose windows do not parse (ValidateSpec refuses them, but a spec
// may come from KV) has none: nothing is pruned outside a disk emergency.
func (o *Orchestrator) windows(sp *events.Spec) *prunes.Windows {
	if c := o.pruneWins.Load(); c.For(sp) {
		return c
	}
	wins, err := cleanup.ParseWindows(sp.Cleanup.Windows)
	if err != nil {
		o.log.Warn("cleanup windows do not parse: no window opens", "err", err)
		wins = nil
	}
	c := prunes.NewWindows(sp, wins)
	o.pruneWins.Store(c)
	return c
}

func (o *Orchestrator) pruneView(now time.Time) pruneView {
	sp := o.spec.Load()
	pv := pruneView{Spec: sp, Window: o.windows(sp).StateAt(now), Now: now, Hist: o.specHist.Load(), Next: o.next.Load()}
	if pv.Hist != nil && pv.Hist.Rev < sp.Revision {
		// The spec in force (a `spec set` puts it in force at once) is
		// newer than the history read: what it removed is not known
		// to be in its grace yet. No prune until the history catches up.
		pv.Hist = nil
	}
	if pv.Hist != nil {
		pv.Ret = pv.Hist.RetainedAt(now)
	}
	return pv
}

// derivePrune adds a host's prune (docs/orchestrator.md#cleanup) when its plan prunes
// something: inside a window once the replacement is ready, or in a disk
// emergency. Nothing goes before the spec history was read (the removal
// grace). The caller skipped stale hosts; the disruption budget applies at
// dispatch (admitPrunes).
func (o *Orchestrator) derivePrune(host string, hs *hostState, w *wants) {
	pv := &w.prune
	if pv.Spec == nil || pv.Hist == nil || len(hs.h.VMs) == 0 {
		return
	}
	if hs.h.SpecRevision < pv.Spec.Revision {
		// The host checked against an older spec: it would re-apply the
		// rules with that spec and refuse (or keep what the new spec no
		// longer expects). Wait for its report on the current spec.
		return
	}
	e := o.plans.Get(host, hs.h, pv)
	if len(e.Res.Prune) == 0 {
		return
	}
	reason := events.PruneReasonWindow
	if e.Res.DiskEmergency && !e.Res.WindowOpen {
		reason = events.PruneReasonEmergency
	}
	w.prunes = append(w.prunes, pruneWant{host: host, vms: e.Names, why: e.Why, reason: reason, boot: hs.h.BootID, seq: hs.h.Seq,
		budgeted: !e.Res.DiskEmergency})
}

// HostPrune is a host's cleanup in GET /api/v1/hosts/{host}: the plan for
// its last report now, the windows, the prune in flight or backing off,
// and its recent outcomes.
type HostPrune struct {
	// Plan is every VM's verdict: pruned (with the candidate reason) or
	// kept (with the protecting rule).
	Plan cleanup.Result `json:"plan"`
	// Window: open now and until when, or when the next window opens.
	Window cleanup.WindowState   `json:"window"`
	Status PruneStatus           `json:"status"`
	Recent []events.PruneOutcome `json:"recent,omitempty"`
}

// hostPrune computes a host's cleanup view now (on demand, off the loop).
func (o *Orchestrator) hostPrune(host string, hs *hostState) *HostPrune {
	now := o.now()
	pv := o.pruneView(now)
	return &HostPrune{
		Plan:   cleanup.Plan(prunes.Input(hs.h, &pv)),
		Window: pv.Window,
		Status: o.prunes.status(host),
		Recent: o.outcomes.Host(host),
	}
}
