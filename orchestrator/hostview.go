package orchestrator

import (
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// Host states in the read API and metrics.
const (
	HostReady    = "ready"
	HostNotReady = "not_ready"
	HostStale    = "stale"
)

// HostView is one host as the read API shows it.
type HostView struct {
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

// Hosts returns every known host, sorted.
func (o *Orchestrator) Hosts() []HostView { return o.hostViews(o.now(), false) }

// Host returns one host with its full last report.
func (o *Orchestrator) Host(host string) (HostView, bool) {
	hs := o.fleet.get(host)
	if hs == nil {
		return HostView{}, false
	}
	v := o.hostView(host, hs, o.now())
	v.Health = hs.h
	pv := o.pruneView(o.now())
	v.Prune = o.prunes.HostView(host, hs.h, &pv)
	return v, true
}

func (o *Orchestrator) hostView(host string, hs *hostState, now time.Time) HostView {
	v := HostView{Host: host, LastSeen: hs.lastSeen, StaleAt: o.fleet.staleAt(hs), Seq: hs.h.Seq, Releases: hs.h.Releases, State: HostNotReady}
	switch {
	case o.fleet.stale(hs, now):
		v.State = HostStale
	case hs.h.Ready:
		v.State = HostReady
	}
	if next := o.next.Load(); next != nil && hs.h.NextRevision == next.Revision {
		v.Staged = hs.h.Staged
	}
	drift, since, reason, paused := o.agents.Host(host)
	if drift {
		v.Drift, v.DriftSince, v.DriftReason = true, &since, reason
	}
	v.Paused = paused
	return v
}

// Builds returns every build record, sorted by key.
func (o *Orchestrator) Builds() []builds.Record { return o.builds.Records() }
