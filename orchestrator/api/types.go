package api

import (
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// Host states in HostView.State.
const (
	HostReady    = orchestrator.HostReady
	HostNotReady = orchestrator.HostNotReady
	HostStale    = orchestrator.HostStale
)

type (
	// HostView is one host (GET /api/v1/hosts, GET /api/v1/hosts/{host}).
	HostView = orchestrator.HostView
	// LeaderStatus is GET /api/v1/leader, also part of /readyz and
	// GET /api/v1/hosts.
	LeaderStatus = lease.Status
	// Record is one build record (GET /api/v1/builds, the answer of
	// POST /api/v1/builds/{key}/retry).
	Record = builds.Record
	// SpecUpdate is POST /api/v1/spec; the answer is the spec in force
	// (events.Spec, as GET /api/v1/spec).
	SpecUpdate = orchestrator.SpecUpdate
	// SpecPromote is POST /api/v1/spec/promote; the answer is the spec in
	// force.
	SpecPromote = orchestrator.SpecPromote
	// SpecRollback is POST /api/v1/spec/rollback; the answer is the spec
	// in force, as for POST /api/v1/spec.
	SpecRollback = orchestrator.SpecRollback
	// SpecPreview is the answer of a dry run (`"dry_run": true`) of
	// POST /api/v1/spec or /api/v1/spec/promote: the change's impact, per
	// release, and whether it needs `"confirm": true`.
	SpecPreview = rollout.Impact
	// ReleaseImpact is one release of a SpecPreview.
	ReleaseImpact = rollout.ReleaseImpact
	// ForgetHostRequest is POST /api/v1/hosts/{host}/forget.
	ForgetHostRequest = orchestrator.ForgetRequest
	// DrainHostRequest is POST /api/v1/hosts/{host}/drain and
	// /api/v1/hosts/{host}/resume (the TTL only for a drain); the answer
	// is the events.HostDrain published on <prefix>.fleet.drain.
	DrainHostRequest = orchestrator.DrainRequest
	// PruneHostRequest is POST /api/v1/hosts/{host}/prune.
	PruneHostRequest = prunes.HostRequest
	// PruneHostResponse is the answer of POST /api/v1/hosts/{host}/prune.
	PruneHostResponse = prunes.HostResponse
)

// ErrorResponse is the body of every error answer of the API.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ReadyResponse is GET /readyz: "ready" (200), "starting" (503, with the
// reason: NATS unreachable, credentials refused, JetStream not set up) or
// "catching up" (503), and who leads.
type ReadyResponse struct {
	Status string `json:"status"`
	// Reason says why a starting orchestrator is not ready yet, e.g.
	// "nats: connecting to nats://n1:4222: nats: authorization violation".
	Reason string `json:"reason,omitempty"`
	LeaderStatus
}

// Ready states in ReadyResponse.Status.
const (
	ReadyReady      = "ready"
	ReadyStarting   = "starting"
	ReadyCatchingUp = "catching up"
)

// HostsResponse is GET /api/v1/hosts.
type HostsResponse struct {
	Hosts []HostView `json:"hosts"`
	// Cells is, by host, each release's state as the dashboard shows it
	// (ready, missing, building, pulling, queued, blocked, stale, forced,
	// error) with why nothing is in flight (Cell.Wait).
	Cells     map[string][]Cell      `json:"cells,omitempty"`
	Readiness *events.FleetReadiness `json:"readiness,omitempty"`
	// Leader says who leads, as the answering orchestrator knows it.
	Leader *LeaderStatus `json:"leader,omitempty"`
}

// BuildsResponse is GET /api/v1/builds.
type BuildsResponse struct {
	Builds []Record `json:"builds"`
}

// PrunesResponse is GET /api/v1/prunes.
type PrunesResponse struct {
	// Recent is the latest per-VM outcomes agents published since this
	// orchestrator started, newest first.
	Recent []events.PruneOutcome `json:"recent"`
}

// SpecHistoryResponse is GET /api/v1/spec/history.
type SpecHistoryResponse struct {
	// Revisions are the changes of the spec keys (current and the staged
	// next), newest first.
	Revisions []events.SpecHistoryEntry `json:"revisions"`
}

// SpecRefusal is the 409 answer of a spec change that needs a
// confirmation (it removes a release, or makes more than
// spec.confirm_not_ready_fraction of the hosts not ready) sent without
// `"confirm": true`: nothing was written; Preview says why.
type SpecRefusal struct {
	Error   string      `json:"error"`
	Preview SpecPreview `json:"preview"`
}
