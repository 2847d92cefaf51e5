package events

import (
	"fmt"
	"time"
)

// validateStaged checks HostHealth.Staged as Validate checks Releases.
func validateStaged(staged []ReleaseStatus) error {
	for i, r := range staged {
		if !validValue(r.Release) {
			return fieldErr(fmt.Sprintf("staged[%d].release", i), fmt.Sprintf("%q is not a release", r.Release))
		}
		if !r.Reason.Valid() {
			return fieldErr(fmt.Sprintf("staged[%d].reason", i), fmt.Sprintf("unknown reason %q", r.Reason))
		}
	}
	return nil
}

// StagedStatus returns the status of release r of the staged spec, if the
// host reports it.
func (h HostHealth) StagedStatus(r string) (ReleaseStatus, bool) {
	for _, s := range h.Staged {
		if s.Release == r {
			return s, true
		}
	}
	return ReleaseStatus{}, false
}

// Rollout is a staged rollout's progress, in FleetReadiness while the spec
// bucket holds a staged spec.
type Rollout struct {
	// NextRevision is the staged spec's KV revision.
	NextRevision uint64 `json:"next_revision"`
	// Hosts counts the non-stale hosts; Ready those holding every staged
	// image (checked against NextRevision).
	Hosts int `json:"hosts"`
	Ready int `json:"ready"`
	// AutoPromote is the staged spec's share for promotion by itself (0: by
	// hand).
	AutoPromote float64           `json:"auto_promote,omitempty"`
	Releases    []StagedReadiness `json:"releases"`
	// StagedAt is when the staged spec was written (its UpdatedAt).
	StagedAt time.Time `json:"staged_at,omitzero"`
	// Changes is what the staged spec changes of the spec in force.
	Changes []SpecFieldChange `json:"changes,omitempty"`
	// NoSpace counts the hosts without room for at least one staged image
	// (they get it after promotion).
	NoSpace int `json:"no_space,omitempty"`
	// AutoPromoteHosts is how many hosts must be Ready for the
	// orchestrator to promote by itself: AutoPromote of Hosts, rounded up.
	AutoPromoteHosts int `json:"auto_promote_hosts,omitempty"`
	// ETA is the estimate of when the rollout reaches its target.
	ETA *RolloutETA `json:"eta,omitempty"`
}

// SpecFieldChange is one field a staged spec changes: from the spec in force's
// value to the staged one's (releases comma separated).
type SpecFieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Bases of a rollout's ETA (RolloutETA.Basis).
const (
	// ETARate: At extrapolates the rate at which hosts came to hold every
	// staged image over the recent window.
	ETARate = "rate"
	// ETABuild: no host holds the staged images yet; At is when the staged
	// builds in flight should finish, from the typical duration of the
	// builds that finished. The first hosts get the images then; the rest
	// follow at a rate not known yet.
	ETABuild = "build"
	// ETADone: Target hosts hold every staged image.
	ETADone = "done"
	// ETAUnknown: nothing to estimate from (Why says what is missing).
	ETAUnknown = "unknown"
)

// RolloutETA is when a staged rollout should reach its target, and on
// what basis.
type RolloutETA struct {
	Basis string `json:"basis"`
	// Target is the hosts the rollout waits for: AutoPromoteHosts with an
	// auto-promote, else every non-stale host with room for the images.
	Target int `json:"target"`
	// At is the estimate (bases rate and build), zero otherwise.
	At time.Time `json:"at,omitzero"`
	// HostsPerHour is the observed rate (basis rate).
	HostsPerHour float64 `json:"hosts_per_hour,omitempty"`
	// TypicalBuild is the builds' typical duration (basis build).
	TypicalBuild Duration `json:"typical_build,omitempty"`
	// Why says in words what the estimate rests on, or why there is none.
	Why string `json:"why,omitempty"`
}

// StagedReadiness is one release of the staged spec across the fleet.
type StagedReadiness struct {
	Release string `json:"release"`
	Image   string `json:"image"`
	// Ready hosts hold the staged image; NoSpace hosts have no room for it
	// (they get it after promotion); Total counts the non-stale hosts.
	Ready   int `json:"ready"`
	NoSpace int `json:"no_space"`
	Total   int `json:"total"`
	// Builds and Pulls are the staged image's builds and pulls in flight.
	Builds int `json:"builds"`
	Pulls  int `json:"pulls"`
}
