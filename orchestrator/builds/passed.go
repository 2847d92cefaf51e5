package builds

import "github.com/vmfleet/vmfleet/events"

// PassedFor reports whether r is a passed build with w's parameters: in
// registry mode, the image is pushed and hosts may pull it (Manager.Pushed
// over a snapshot of the records).
func PassedFor(r *Record, w Want) bool {
	return r != nil && r.Key == w.Key && r.State == events.BuildPassed && r.Digest == digest(w)
}

// Digest fingerprints what a build for w would be asked to do
// (Record.Digest of a record written for w).
func Digest(w Want) string { return digest(w) }
