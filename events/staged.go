package events

import "fmt"

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
