package hosts

import (
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// Host states in the read API and metrics.
const (
	Ready    = "ready"
	NotReady = "not_ready"
	Stale    = "stale"
)

// View is one host as the read API shows it.
type View struct {
	Host     string                 `json:"host"`
	State    string                 `json:"state"`
	LastSeen time.Time              `json:"last_seen"`
	StaleAt  time.Time              `json:"stale_at"`
	Seq      uint64                 `json:"seq"`
	Releases []events.ReleaseStatus `json:"releases"`
	// Staged is the host's status of each staged image (no_space: no room
	// for it), while a spec is staged and the host checked against it.
	Staged []events.ReleaseStatus `json:"staged,omitempty"`
	// Drift is set when the host's Buildkite agent tags have disagreed with
	// the tags it reports for longer than the drift grace, since DriftSince.
	Drift       bool               `json:"drift"`
	DriftSince  *time.Time         `json:"drift_since,omitempty"`
	DriftReason events.DriftReason `json:"drift_reason,omitempty"`
	// Paused is set while the pause lever holds the host's agents paused.
	Paused bool `json:"paused,omitempty"`
	// Health is the full last report (GET /api/v1/hosts/{host} only).
	Health *events.HostHealth `json:"health,omitempty"`
	// Prune is the host's cleanup plan, windows and recent prunes
	// (GET /api/v1/hosts/{host} only).
	Prune *prunes.HostView `json:"prune,omitempty"`
}

// View is host's view at now as the fleet knows it: its state (stale,
// ready or not), when it was last seen and goes stale, its last report's
// sequence and releases.
func (f *Fleet) View(host string, s *State, now time.Time) View {
	v := View{Host: host, LastSeen: s.LastSeen, StaleAt: f.StaleAt(s), Seq: s.Health.Seq, Releases: s.Health.Releases, State: NotReady}
	switch {
	case f.Stale(s, now):
		v.State = Stale
	case s.Health.Ready:
		v.State = Ready
	}
	return v
}

// Views is every known host's View at now, sorted, each completed by more
// (what the fleet does not know: the staged statuses, drift); with its last
// report in Health when health is set.
func (f *Fleet) Views(now time.Time, health bool, more func(v *View, s *State)) []View {
	var out []View // nil when none, as the host list always was
	if health {
		out = make([]View, 0, f.Len())
	}
	f.Each(func(host string, s *State) {
		v := f.View(host, s, now)
		more(&v, s)
		if health {
			v.Health = s.Health
		}
		out = append(out, v)
	})
	slices.SortFunc(out, func(a, b View) int { return strings.Compare(a.Host, b.Host) })
	return out
}
