package prunes

import (
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// View is the cleanup side of one reconcile pass: the spec, its parsed
// windows and their state at the pass's now, computed once.
type View struct {
	Spec *events.Spec
	// Next is the staged spec in force, nil: no rollout (the
	// history's stands in while the watch of key next is behind).
	Next   *events.Spec
	Window cleanup.WindowState
	Now    time.Time
	// Hist is the spec keys' history (nil until read, or while older than
	// the spec: no prune goes), Ret the images in their removal grace at now.
	Hist *History
	Ret  *Retained
}

// Windows is a spec's parsed windows and their last computed state.
type Windows struct {
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

// StateAt is the windows' state at now: the state kept from an earlier pass
// while now is in the span where it holds, else computed again. Passes come
// many times a second in a busy fleet, and State follows up to 64 chained
// openings of an always-open window such as "* * * * *" for 1m, while its
// state changes at most once a minute.
func (c *Windows) StateAt(now time.Time) cleanup.WindowState {
	if k := c.state.Load(); k != nil && !now.Before(k.from) && now.Before(k.until) {
		return k.st
	}
	st, until := c.wins.StateUntil(now)
	c.state.Store(&windowState{st: st, from: now, until: until})
	return st
}

// NewWindows is the spec's parsed windows (nil: none).
func NewWindows(sp *events.Spec, wins *cleanup.Windows) *Windows {
	return &Windows{spec: sp, wins: wins}
}

// For tells whether c holds the windows of spec sp.
func (c *Windows) For(sp *events.Spec) bool { return c != nil && c.spec == sp }

// Plan caches one host's plan: a host whose report and spec did not
// change is not planned again, and one without candidates is skipped
// whatever the window.
type Plan struct {
	h          *events.HostHealth
	spec       *events.Spec
	hist       *History
	ret        *Retained
	next       *events.Spec
	open       bool
	candidates bool // some VM has a candidate reason
	Res        cleanup.Result
	Names      []string // Res.PruneNames(), shared by the wants (read-only)
	Why        []string // each pruned VM's reason, likewise
	gen        uint64
}

// Plans caches each host's plan. Owned by the loop.
type Plans struct {
	m   map[string]*Plan
	gen uint64
}

// NewPlans returns an empty cache.
func NewPlans() *Plans { return &Plans{m: map[string]*Plan{}} }

// Clear drops every cached plan.
func (c *Plans) Clear() { clear(c.m) }

// Sweep drops cached plans of hosts a full pass did not visit.
func (c *Plans) Sweep() {
	for h, e := range c.m {
		if e.gen != c.gen {
			delete(c.m, h)
		}
	}
	c.gen++
}

// Get returns a host's plan in the pass, from the cache when its report h,
// the spec, the spec history, the retained images and the window's openness
// are the same.
func (c *Plans) Get(host string, h *events.HostHealth, pv *View) *Plan {
	e := c.m[host]
	if e != nil && e.h == h && e.spec == pv.Spec && e.hist == pv.Hist && e.ret == pv.Ret && e.next == pv.Next && (e.open == pv.Window.Open || !e.candidates) {
		e.gen = c.gen
		return e
	}
	if e == nil {
		e = &Plan{}
		c.m[host] = e
	}
	*e = Plan{h: h, spec: pv.Spec, hist: pv.Hist, ret: pv.Ret, next: pv.Next, open: pv.Window.Open, gen: c.gen}
	e.Res = cleanup.Plan(Input(h, pv))
	e.Names = e.Res.PruneNames()
	for _, d := range e.Res.Prune {
		e.Why = append(e.Why, string(d.Reason))
	}
	e.candidates = len(e.Res.Prune) > 0
	for _, d := range e.Res.Keep {
		e.candidates = e.candidates || d.Reason != ""
	}
	return e
}

// Input is a host's cleanup.Input in the view: its report, the spec,
// the staged spec and the images in their removal grace.
func Input(h *events.HostHealth, pv *View) cleanup.Input {
	in := cleanup.Input{
		Spec: pv.Spec.Images, Policy: pv.Spec.Cleanup, VMs: h.VMs, Releases: h.Releases, Disk: h.Disk,
		Now: pv.Now, Window: pv.Window,
	}
	if pv.Hist != nil {
		in.Next, in.Retain = pv.Hist.Next, pv.Ret.Imgs
	}
	if pv.Next != nil {
		in.Next = &pv.Next.Images
	}
	return in
}
