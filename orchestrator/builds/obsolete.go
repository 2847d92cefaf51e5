package builds

import "github.com/vmfleet/vmfleet/events"

// Obsolete reports whether r is a live build (requested, scheduled or
// running) whose image no active image spec (the current and the staged
// spec: pass both when a rollout is in progress) wants: no host needs what
// it builds any more, so it is to be cancelled. Finished records are never
// obsolete: there is nothing to cancel.
func Obsolete(r Record, active ...events.ImageSpec) bool {
	if !r.State.Live() {
		return false
	}
	for _, im := range active {
		for _, rel := range im.Releases {
			if im.ImageName(rel) == r.Image {
				return false
			}
		}
	}
	return true
}

// PassedFor reports whether r is a passed build with w's parameters: in
// registry mode, the image is pushed and hosts may pull it (Manager.Pushed
// over a snapshot of the records).
func PassedFor(r *Record, w Want) bool {
	return r != nil && r.Key == w.Key && r.State == events.BuildPassed && r.Digest == digest(w)
}

// Digest fingerprints what a build for w would be asked to do
// (Record.Digest of a record written for w).
func Digest(w Want) string { return digest(w) }
