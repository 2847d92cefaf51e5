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

// ImageTagKey is the Buildkite agent tag key saying a host holds image name
// ready: "vm-image-" + name, set to "true" for every image of an active spec
// (current or staged) the host holds, so a job can target one exact image
// while two specs are active (docs/routing.md).
func ImageTagKey(name string) string { return "vm-image-" + name }
