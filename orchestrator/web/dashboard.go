package web

import (
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

func cellEqual(c, d api.Cell) bool {
	if c.Release != d.Release || c.State != d.State || c.Ready != d.Ready || c.Reason != d.Reason ||
		c.Detail != d.Detail || c.Image != d.Image || (c.Build == nil) != (d.Build == nil) {
		return false
	}
	return (c.Build == nil || *c.Build == *d.Build) && sameWait(c.Wait, d.Wait) // wait.go
}

// Dashboard returns the dashboard's data as of now.
func (s *Server) Dashboard() api.DashboardView {
	now := s.o.Now()
	ix := s.dashIndex()
	v := api.DashboardView{Now: now.UTC(), Hosts: []api.DashboardHost{}, Builds: []api.Record{}, Fleet: s.dashFleet(now)}
	for _, hv := range s.o.HostReports(now) {
		v.Hosts = append(v.Hosts, dashHost(hv, now, ix))
	}
	for _, r := range ix.records {
		if r.State != events.BuildPassed {
			v.Builds = append(v.Builds, r)
		}
	}
	return v
}

// dashIndex is what cells are derived from besides the host's report.
type dashIndex struct {
	records []api.Record
	byKey   map[string]*api.Record
	pulling map[pulls.HostImage]bool
	spec    events.Spec
	queues  // wait.go
}

func (s *Server) dashIndex() *dashIndex {
	ix := &dashIndex{records: s.o.Builds(), pulling: s.o.PullsInFlight(), spec: s.o.Spec(), queues: s.queues()}
	ix.byKey = make(map[string]*api.Record, len(ix.records))
	for i := range ix.records {
		ix.byKey[ix.records[i].Key] = &ix.records[i]
	}
	return ix
}

// dashHost is one row from the host's view and its last report (v.Health).
func dashHost(v api.HostView, now time.Time, ix *dashIndex) api.DashboardHost {
	h := v.Health
	v.Releases, v.Health = nil, nil
	stale := v.State == api.HostStale
	d := api.DashboardHost{HostView: v, Queue: hostQueue(h), Disk: h.Disk, VMs: len(h.VMs), TartErr: h.TartError,
		Cells: cells(v.Host, h, stale, now, ix)}
	if h.Forced.Active(now) {
		d.Forced = h.Forced
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
func cells(host string, h *events.HostHealth, stale bool, now time.Time, ix *dashIndex) []api.Cell {
	out := make([]api.Cell, 0, len(h.Releases))
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
	slices.SortStableFunc(out, func(a, b api.Cell) int {
		if d := rank(a.Release) - rank(b.Release); d != 0 {
			return d
		}
		return strings.Compare(a.Release, b.Release)
	})
	return out
}

func cell(host string, st events.ReleaseStatus, stale, forced bool, ix *dashIndex) api.Cell {
	c := api.Cell{Release: st.Release, Ready: st.Ready, Reason: st.Reason, Detail: st.Detail, Image: st.ExpectedImage}
	rec := ix.byKey[builds.RecordKey(st.ExpectedImage, host)]
	if rec == nil {
		rec = ix.byKey[builds.RecordKey(st.ExpectedImage, "")]
	}
	if rec != nil && rec.State != events.BuildPassed {
		c.Build = &api.BuildRef{Key: rec.Key, State: rec.State, Number: rec.Number, URL: rec.URL, Attempt: rec.Attempt}
	}
	reason := st.Reason.Info()
	switch {
	case stale:
		c.State = api.CellStale
	case forced || reason.Forced:
		c.State = api.CellForced
	case st.Ready:
		c.State = api.CellReady
	case reason.Error:
		c.State = api.CellError
	case ix.pulling[pulls.HostImage{Host: host, Image: st.ExpectedImage}]:
		c.State = api.CellPulling
	case c.Build != nil && c.Build.State.Live():
		c.State = api.CellBuilding
	case c.Build != nil && c.Build.State == events.BuildBlocked:
		c.State = api.CellBlocked
		c.Wait = blockedWait(rec)
	default:
		c.State = api.CellMissing
		ix.explain(host, &c, rec) // wait.go: queued, backing off
	}
	return c
}

// dashFleet is the page's header: readiness, spec (and the staged one),
// cleanup windows, prunes.
func (s *Server) dashFleet(now time.Time) api.DashboardFleet {
	sp := s.o.Spec()
	f := api.DashboardFleet{Readiness: s.o.Readiness(), Spec: sp, Next: s.o.Next(), CaughtUp: s.o.CaughtUp(), Leader: s.o.IsLeader(),
		Cleanup: api.CleanupView{Windows: sp.Cleanup.Windows}, Prunes: recentForDashboard(s.o.RecentPrunes())}
	f.SpecChange = latestEntry(s.o.SpecHistoryEntries())
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

// latestEntry is the newest change of key current in changes (newest
// first), nil when there is none.
func latestEntry(changes []events.SpecHistoryEntry) *events.SpecHistoryEntry {
	for i := range changes {
		if changes[i].Key == events.SpecKey {
			c := changes[i]
			return &c
		}
	}
	return nil
}
