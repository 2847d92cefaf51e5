package api

import (
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// Cell states of the dashboard's host × release grid: what an operator needs
// to know about one release on one host, the reason aside.
const (
	CellReady    = "ready"    // the image is there
	CellMissing  = "missing"  // not ready, and nothing is on its way
	CellBuilding = "building" // a live build will produce it
	CellPulling  = "pulling"  // a pull command is in flight
	CellQueued   = "queued"   // its build or pull waits behind a cap (Cell.Wait says which)
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
	// Wait says why a missing image has nothing in flight: queued behind
	// a cap, backing off after failures, blocked (wait.go).
	Wait *Wait `json:"wait,omitempty"`
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
	// SpecChange is the latest change of the spec in force (KV key
	// current): its revision, who, why, when and what changed.
	SpecChange *events.SpecHistoryEntry `json:"spec_change,omitempty"`
	// Next is the staged spec while a rollout is in progress (its progress
	// is Readiness.Rollout).
	Next    *events.Spec `json:"next,omitempty"`
	Cleanup CleanupView  `json:"cleanup"`
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
	Builds []Record        `json:"builds"`
	Fleet  DashboardFleet  `json:"fleet"`
}

// Server-sent event names of GET /api/v1/events.
const (
	SSESnapshot = "snapshot" // data: DashboardView
	SSEDelta    = "delta"    // data: what changed since the last message
)
