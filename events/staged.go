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
