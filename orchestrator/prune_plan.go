package orchestrator

import (
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// pruneView is the cleanup side of one reconcile pass: the spec, its parsed
// windows and their state at the pass's now, computed once.
type pruneView struct {
	spec *events.Spec
	// next is the staged spec in force (o.next), nil: no rollout (the
	// history's stands in while the watch of key next is behind).
	next   *events.Spec
	window cleanup.WindowState
	now    time.Time
	// hist is the spec keys' history (nil until read, or while older than
	// the spec: no prune goes), ret the images in their removal grace at now.
	hist *specHistory
	ret  *retained
}

// windows returns the spec's parsed cleanup windows, parsed once per spec.
// A spec whose windows do not parse (ValidateSpec refuses them, but a spec
// may come from KV) has none: nothing is pruned outside a disk emergency.
func (o *Orchestrator) windows(sp *events.Spec) *parsedWindows {
	if c := o.pruneWins.Load(); c != nil && c.spec == sp {
		return c
	}
	wins, err := cleanup.ParseWindows(sp.Cleanup.Windows)
	if err != nil {
		o.log.Warn("cleanup windows do not parse: no window opens", "err", err)
		wins = nil
	}
	c := &parsedWindows{spec: sp, wins: wins}
	o.pruneWins.Store(c)
	return c
}

// parsedWindows is a spec's parsed windows and their last computed state.
type parsedWindows struct {
	spec  *events.Spec
	wins  *cleanup.Windows
	state atomic.Pointer[windowState]
}

// windowState is the windows' state over [from, until), where it cannot
// change (cleanup.Windows.StateUntil).
type windowState struct {
	st          cleanup.WindowState
	from, until time.Time
}

// stateAt is the windows' state at now: the state kept from an earlier pass
// while now is in the span where it holds, else computed again. Passes come
// many times a second in a busy fleet, and State follows up to 64 chained
// openings of an always-open window such as "* * * * *" for 1m, while its
// state changes at most once a minute.
func (c *parsedWindows) stateAt(now time.Time) cleanup.WindowState {
	if k := c.state.Load(); k != nil && !now.Before(k.from) && now.Before(k.until) {
		return k.st
	}
	st, until := c.wins.StateUntil(now)
	c.state.Store(&windowState{st: st, from: now, until: until})
	return st
}

func (o *Orchestrator) pruneView(now time.Time) pruneView {
	sp := o.spec.Load()
	pv := pruneView{spec: sp, window: o.windows(sp).stateAt(now), now: now, hist: o.specHist.Load(), next: o.next.Load()}
	if pv.hist != nil && pv.hist.rev < sp.Revision {
		// The spec in force (a `spec set` puts it in force at once) is
		// newer than the history read: what it removed is not known
		// to be in its grace yet. No prune until the history catches up.
		pv.hist = nil
	}
	if pv.hist != nil {
		pv.ret = pv.hist.retainedAt(now)
	}
	return pv
}

// planEntry caches one host's plan: a host whose report and spec did not
// change is not planned again, and one without candidates is skipped
// whatever the window.
type planEntry struct {
	h          *events.HostHealth
	spec       *events.Spec
	hist       *specHistory
	ret        *retained
	next       *events.Spec
	open       bool
	candidates bool // some VM has a candidate reason
	res        cleanup.Result
	names      []string // res.PruneNames(), shared by the wants (read-only)
	why        []string // each pruned VM's reason, likewise
	gen        uint64
}

// plan returns a host's plan in the pass, from the cache when its report,
// the spec, the spec history, the retained images and the window's openness
// are the same. Owned by the loop.
func (o *Orchestrator) plan(host string, hs *hostState, pv *pruneView) *planEntry {
	e := o.planCache[host]
	if e != nil && e.h == hs.h && e.spec == pv.spec && e.hist == pv.hist && e.ret == pv.ret && e.next == pv.next && (e.open == pv.window.Open || !e.candidates) {
		e.gen = o.planGen
		return e
	}
	if e == nil {
		e = &planEntry{}
		o.planCache[host] = e
	}
	*e = planEntry{h: hs.h, spec: pv.spec, hist: pv.hist, ret: pv.ret, next: pv.next, open: pv.window.Open, gen: o.planGen}
	e.res = cleanup.Plan(planInput(hs.h, pv))
	e.names = e.res.PruneNames()
	for _, d := range e.res.Prune {
		e.why = append(e.why, string(d.Reason))
	}
	e.candidates = len(e.res.Prune) > 0
	for _, d := range e.res.Keep {
		e.candidates = e.candidates || d.Reason != ""
	}
	return e
}

// planInput is a host's cleanup.Input in the view: its report, the spec,
// the staged spec and the images in their removal grace.
func planInput(h *events.HostHealth, pv *pruneView) cleanup.Input {
	in := cleanup.Input{
		Spec: pv.spec.Images, Policy: pv.spec.Cleanup, VMs: h.VMs, Releases: h.Releases, Disk: h.Disk,
		Now: pv.now, Window: pv.window,
	}
	if pv.hist != nil {
		in.Next, in.Retain = pv.hist.next, pv.ret.imgs
	}
	if pv.next != nil {
		in.Next = &pv.next.Images
	}
	return in
}

// derivePrune adds a host's prune (docs/orchestrator.md#cleanup) when its plan prunes
// something: inside a window once the replacement is ready, or in a disk
// emergency. Nothing goes before the spec history was read (the removal
// grace). The caller skipped stale hosts; the disruption budget applies at
// dispatch (admitPrunes).
func (o *Orchestrator) derivePrune(host string, hs *hostState, w *wants) {
	pv := &w.prune
	if pv.spec == nil || pv.hist == nil || len(hs.h.VMs) == 0 {
		return
	}
	if hs.h.SpecRevision < pv.spec.Revision {
		// The host checked against an older spec: it would re-apply the
		// rules with that spec and refuse (or keep what the new spec no
		// longer expects). Wait for its report on the current spec.
		return
	}
	e := o.plan(host, hs, pv)
	if len(e.res.Prune) == 0 {
		return
	}
	reason := events.PruneReasonWindow
	if e.res.DiskEmergency && !e.res.WindowOpen {
		reason = events.PruneReasonEmergency
	}
	w.prunes = append(w.prunes, pruneWant{host: host, vms: e.names, why: e.why, reason: reason, boot: hs.h.BootID, seq: hs.h.Seq,
		budgeted: !e.res.DiskEmergency})
}

// sweepPlans drops cached plans of hosts a full pass did not visit.
func (o *Orchestrator) sweepPlans() {
	for h, e := range o.planCache {
		if e.gen != o.planGen {
			delete(o.planCache, h)
		}
	}
	o.planGen++
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
		Plan:   cleanup.Plan(planInput(hs.h, &pv)),
		Window: pv.window,
		Status: o.prunes.status(host),
		Recent: o.outcomes.host(host),
	}
}
