package orchestrator

import (
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// Cell states of the dashboard's host × release grid: what an operator needs
// to know about one release on one host, the reason aside.
const (
	CellReady    = "ready"    // the image is there
	CellMissing  = "missing"  // not ready, and nothing is on its way
	CellBuilding = "building" // a live build will produce it
	CellPulling  = "pulling"  // a pull command is in flight
	CellBlocked  = "blocked"  // its build key is blocked after max_attempts failures
	CellStale    = "stale"    // the host went silent: its last report is not trusted
	CellForced   = "forced"   // an operator's override is in force
	CellError    = "error"    // tart failed on the host
)

// BuildRef is the build behind a cell, with its Buildkite link.
type BuildRef struct {
	Key     string            `json:"key"`
	State   events.BuildState `json:"state"`
	Number  int               `json:"number,omitempty"`
	URL     string            `json:"url,omitempty"`
	Attempt int               `json:"attempt,omitempty"`
}

// Cell is one release on one host.
type Cell struct {
	Release string        `json:"release"`
	State   string        `json:"state"`
	Ready   bool          `json:"ready"`
	Reason  events.Reason `json:"reason,omitempty"`
	Detail  string        `json:"detail,omitempty"`
	Image   string        `json:"image"`
	Build   *BuildRef     `json:"build,omitempty"`
}

func (c Cell) equal(d Cell) bool {
	if c.Release != d.Release || c.State != d.State || c.Ready != d.Ready || c.Reason != d.Reason ||
		c.Detail != d.Detail || c.Image != d.Image || (c.Build == nil) != (d.Build == nil) {
		return false
	}
	return c.Build == nil || *c.Build == *d.Build
}

// DashboardHost is one row of the dashboard: the read API's host view (so
// fields added to HostView show up here too) plus the cells.
type DashboardHost struct {
	HostView
	Queue    string         `json:"queue,omitempty"`
	Forced   *events.Forced `json:"forced,omitempty"`
	Disk     *events.Disk   `json:"disk,omitempty"`
	VMs      int            `json:"vms"`
	TartErr  string         `json:"tart_error,omitempty"`
	Cells    []Cell         `json:"cells"`
	Releases []struct{}     `json:"releases,omitempty"` // the cells say it; keeps HostView's list out
}

// CleanupView is the cleanup windows and their state now.
type CleanupView struct {
	Windows []events.Window `json:"windows"`
	cleanup.WindowState
}

// DashboardFleet is everything on the page that is not a host or a build.
type DashboardFleet struct {
	Readiness *events.FleetReadiness `json:"readiness,omitempty"`
	Spec      events.Spec            `json:"spec"`
	Cleanup   CleanupView            `json:"cleanup"`
	// Prunes are the latest prune outcomes agents published, newest first.
	Prunes []events.PruneOutcome `json:"prunes"`
	// CaughtUp is false while the fleet state is still being replayed.
	CaughtUp bool `json:"caught_up"`
	Leader   bool `json:"leader"`
}

// DashboardView is GET /api/v1/dashboard and the first message of
// /api/v1/events: the whole page's data. Builds holds every record that is
// not passed (live, failed, canceled, blocked).
type DashboardView struct {
	Now    time.Time       `json:"now"`
	Hosts  []DashboardHost `json:"hosts"`
	Builds []builds.Record `json:"builds"`
	Fleet  DashboardFleet  `json:"fleet"`
}

// Dashboard returns the dashboard's data as of now.
func (o *Orchestrator) Dashboard() DashboardView {
	now := o.now()
	ix := o.dashIndex()
	v := DashboardView{Now: now.UTC(), Hosts: []DashboardHost{}, Builds: []builds.Record{}, Fleet: o.dashFleet(now)}
	for _, hp := range o.hostPairs() {
		v.Hosts = append(v.Hosts, o.dashHost(hp.host, hp.hs, now, ix))
	}
	for _, r := range ix.records {
		if r.State != events.BuildPassed {
			v.Builds = append(v.Builds, r)
		}
	}
	return v
}

type hostPair struct {
	host string
	hs   *hostState
}

// hostPairs snapshots every host's state pointer, sorted by host, so the
// fleet's shard locks are held only while copying pointers.
func (o *Orchestrator) hostPairs() []hostPair {
	out := make([]hostPair, 0, o.fleet.len())
	o.fleet.each(func(host string, hs *hostState) { out = append(out, hostPair{host, hs}) })
	slices.SortFunc(out, func(a, b hostPair) int { return strings.Compare(a.host, b.host) })
	return out
}

// dashIndex is what cells are derived from besides the host's report.
type dashIndex struct {
	records []builds.Record
	byKey   map[string]*builds.Record
	pulling map[string]bool // host "\x00" image
	spec    events.Spec
}

func (o *Orchestrator) dashIndex() *dashIndex {
	ix := &dashIndex{records: o.builds.Records(), pulling: o.pulls.inFlightSet(), spec: o.Spec()}
	ix.byKey = make(map[string]*builds.Record, len(ix.records))
	for i := range ix.records {
		ix.byKey[ix.records[i].Key] = &ix.records[i]
	}
	return ix
}

func (o *Orchestrator) dashHost(host string, hs *hostState, now time.Time, ix *dashIndex) DashboardHost {
	v := o.hostView(host, hs, now)
	v.Releases, v.Health = nil, nil
	stale := v.State == HostStale
	d := DashboardHost{HostView: v, Queue: hostQueue(hs.h), Disk: hs.h.Disk, VMs: len(hs.h.VMs), TartErr: hs.h.TartError,
		Cells: cells(host, hs.h, stale, now, ix)}
	if hs.h.Forced.Active(now) {
		d.Forced = hs.h.Forced
	}
	return d
}

// hostQueue is the Buildkite queue a host serves: as reported, else its
// agent's queue tag.
func hostQueue(h *events.HostHealth) string {
	if h.Queue != "" {
		return h.Queue
	}
	for _, t := range h.BuildkiteTags {
		if q, ok := strings.CutPrefix(t, "queue="); ok {
			return q
		}
	}
	return ""
}

// cells derives one cell per release the host reports, in the spec's order,
// then any release the host reports that the spec does not name.
func cells(host string, h *events.HostHealth, stale bool, now time.Time, ix *dashIndex) []Cell {
	out := make([]Cell, 0, len(h.Releases))
	for _, st := range h.Releases {
		out = append(out, cell(host, st, stale, h.Forced.Active(now), ix))
	}
	order := ix.spec.Images.Releases
	rank := func(r string) int {
		if i := slices.Index(order, r); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b Cell) int {
		if d := rank(a.Release) - rank(b.Release); d != 0 {
			return d
		}
		return strings.Compare(a.Release, b.Release)
	})
	return out
}

func cell(host string, st events.ReleaseStatus, stale, forced bool, ix *dashIndex) Cell {
	c := Cell{Release: st.Release, Ready: st.Ready, Reason: st.Reason, Detail: st.Detail, Image: st.ExpectedImage}
	rec := ix.byKey[builds.RecordKey(st.ExpectedImage, host)]
	if rec == nil {
		rec = ix.byKey[builds.RecordKey(st.ExpectedImage, "")]
	}
	if rec != nil && rec.State != events.BuildPassed {
		c.Build = &BuildRef{Key: rec.Key, State: rec.State, Number: rec.Number, URL: rec.URL, Attempt: rec.Attempt}
	}
	reason := st.Reason.Info()
	switch {
	case stale:
		c.State = CellStale
	case forced || reason.Forced:
		c.State = CellForced
	case st.Ready:
		c.State = CellReady
	case reason.Error:
		c.State = CellError
	case ix.pulling[host+"\x00"+st.ExpectedImage]:
		c.State = CellPulling
	case c.Build != nil && c.Build.State.Live():
		c.State = CellBuilding
	case c.Build != nil && c.Build.State == events.BuildBlocked:
		c.State = CellBlocked
	default:
		c.State = CellMissing
	}
	return c
}

// dashFleet is the page's header: readiness, spec, cleanup windows, prunes.
func (o *Orchestrator) dashFleet(now time.Time) DashboardFleet {
	sp := o.Spec()
	f := DashboardFleet{Readiness: o.readiness.Load(), Spec: sp, CaughtUp: o.caughtUp.Load(), Leader: o.opts.isLeader(),
		Cleanup: CleanupView{Windows: sp.Cleanup.Windows}, Prunes: recentForDashboard(o.RecentPrunes())}
	if f.Cleanup.Windows == nil {
		f.Cleanup.Windows = []events.Window{}
	}
	if ws, err := cleanup.ParseWindows(sp.Cleanup.Windows); err == nil {
		f.Cleanup.WindowState = ws.State(now)
	}
	return f
}

// dashPrunes is how many recent prune outcomes the dashboard shows.
const dashPrunes = 50

func recentForDashboard(all []events.PruneOutcome) []events.PruneOutcome {
	return all[:min(len(all), dashPrunes)]
}
