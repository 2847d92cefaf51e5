package prunes

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/ratelog"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// Deps is what the Manager needs of the orchestrator core.
type Deps struct {
	Now    func() time.Time
	Log    *slog.Logger
	Reg    prometheus.Registerer
	Client hostcmd.Client // how prune commands go out; its Subjects name the outcomes'
	// Wake asks for a reconcile pass: a prune finished, the spec history
	// changed.
	Wake func()
	// Changed is called when an outcome was recorded (the read API shows
	// the recent ones).
	Changed func()
	// HistoryRead, when set, is called with each new read of the spec
	// keys' history (the core's spec history and its change events).
	HistoryRead func(hist []events.SpecRevision)
}

// Manager is the orchestrator's pruning: each host's plan in a pass (Want),
// the disruption budget at dispatch (Admit), the prune commands (a
// hostcmd.Dispatcher keyed by host, Dispatcher), the operator's prune
// (Host), the spec keys' history (FollowHistory) and the agents' outcomes
// (FollowOutcomes). The core hands it each host's last report; the
// Manager keeps no fleet state.
type Manager struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	send    Sender
	disp    *hostcmd.Dispatcher[Want, events.Reply]
	out     *OutcomeLog
	metrics *Metrics
	wins    atomic.Pointer[Windows]
	// hist is the spec keys' history (nil until read: no prune goes).
	hist      atomic.Pointer[History]
	histCache bus.SpecHistoryCache
	rejectLog ratelog.Limiter
	// Owned by the loop goroutine: the plans and the disruption budget.
	plans  *Plans
	budget Budget
}

// New makes the Manager and registers its metrics on deps.Reg.
func New(cfg Config, deps Deps) (*Manager, error) {
	m := &Manager{cfg: cfg, deps: deps, log: deps.Log, out: NewOutcomeLog(), plans: NewPlans()}
	m.send = m.sendVia
	m.disp = newDispatcher(m)
	var err error
	if m.metrics, err = NewMetrics(deps.Reg, func() float64 { return float64(m.disp.InFlight()) }); err != nil {
		return nil, fmt.Errorf("prune metrics: %w", err)
	}
	return m, nil
}

// Dispatcher sends the prune commands a pass admitted.
func (m *Manager) Dispatcher() *hostcmd.Dispatcher[Want, events.Reply] { return m.disp }

// View is the cleanup side of one pass at now: the spec in force and the
// staged one (nil: no rollout), the windows' state, the spec history and
// the images in their removal grace.
func (m *Manager) View(sp, next *events.Spec, now time.Time) View {
	pv := View{Spec: sp, Window: m.windows(sp).StateAt(now), Now: now, Hist: m.hist.Load(), Next: next}
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

// windows returns the spec's parsed cleanup windows, parsed once per spec.
// A spec whose windows do not parse (ValidateSpec refuses them, but a spec
// may come from KV) has none: nothing is pruned outside a disk emergency.
func (m *Manager) windows(sp *events.Spec) *Windows {
	if c := m.wins.Load(); c.For(sp) {
		return c
	}
	wins, err := cleanup.ParseWindows(sp.Cleanup.Windows)
	if err != nil {
		m.log.Warn("cleanup windows do not parse: no window opens", "err", err)
		wins = nil
	}
	c := NewWindows(sp, wins)
	m.wins.Store(c)
	return c
}

// Want is a host's prune in the pass (docs/orchestrator.md#cleanup), when
// its plan prunes something: inside a window once the replacement is ready,
// or in a disk emergency. Nothing goes before the spec history was read
// (the removal grace). The caller skips stale hosts; the disruption budget
// applies at dispatch (Admit).
func (m *Manager) Want(host string, h *events.HostHealth, pv *View) (Want, bool) {
	if pv.Spec == nil || pv.Hist == nil || len(h.VMs) == 0 {
		return Want{}, false
	}
	if h.SpecRevision < pv.Spec.Revision {
		// The host checked against an older spec: it would re-apply the
		// rules with that spec and refuse (or keep what the new spec no
		// longer expects). Wait for its report on the current spec.
		return Want{}, false
	}
	e := m.plans.Get(host, h, pv)
	if len(e.Res.Prune) == 0 {
		return Want{}, false
	}
	reason := events.PruneReasonWindow
	if e.Res.DiskEmergency && !e.Res.WindowOpen {
		reason = events.PruneReasonEmergency
	}
	return Want{Host: host, VMs: e.Names, Why: e.Why, Reason: reason, Boot: h.BootID, Seq: h.Seq,
		Budgeted: !e.Res.DiskEmergency}, true
}

// SweepPlans drops the plans of hosts a full pass did not visit.
func (m *Manager) SweepPlans() { m.plans.Sweep() }

// Admit applies the disruption budget to a pass's prunes, just before they
// are dispatched; nonStale counts the hosts the budget is a share of. It
// sets the budget gauge and logs, once per occurrence, that the budget holds
// prunes back.
func (m *Manager) Admit(wants []Want, pv *View, nonStale func() int) []Want {
	if pv.Spec == nil {
		return wants
	}
	hosts := nonStale()
	limit := Limit(pv.Spec.Cleanup.PruneHostsFraction(), hosts)
	if !pv.Window.Open {
		m.metrics.Budget.Set(float64(limit))
		return wants
	}
	var held int
	wants, held = Admit(&m.budget, pv.Window.Opens, limit, wants, func(w Want) (string, bool) { return w.Host, w.Budgeted })
	m.metrics.Budget.Set(float64(m.budget.Remaining(limit)))
	if held > 0 && !m.budget.Logged {
		m.budget.Logged = true
		m.log.Info("prune budget reached: hosts held back until the next window",
			"window_opened", pv.Window.Opens, "limit", limit, "non_stale_hosts", hosts,
			"fraction", pv.Spec.Cleanup.PruneHostsFraction(), "held_back", held)
	}
	return wants
}

// Recent returns the latest prune outcomes fleet-wide, newest first.
func (m *Manager) Recent() []events.PruneOutcome { return m.out.All() }
