package builds

import (
	"slices"
	"strings"

	"github.com/vmfleet/vmfleet/events"
)

// Why vmfleet cancels or abandons a build (Record.Cancel).
const (
	// ReasonObsolete: no active spec wants the build's image any more; the
	// build is cancelled on Buildkite (label reason of the orchestrator's
	// builds_cancelled_total).
	ReasonObsolete = "obsolete"
	// ReasonUnwanted: a create in doubt that no host wants any more is
	// abandoned when Buildkite shows no build for it.
	ReasonUnwanted = "unwanted"
)

// rawCanceling is Buildkite's state of a build whose jobs are being stopped.
const rawCanceling = "canceling"

// ActiveImages is the set of image names the given image specs expect, one
// per release: what an active spec (current, and next when staged) wants
// built. Nil specs are skipped.
func ActiveImages(specs ...*events.ImageSpec) map[string]bool {
	out := map[string]bool{}
	for _, s := range specs {
		if s == nil {
			continue
		}
		for _, r := range s.Releases {
			out[s.ImageName(r)] = true
		}
	}
	return out
}

// Obsolete returns, sorted by key, the live records (requested, scheduled
// or running) whose image wanted rejects: builds no active spec wants, so
// that the orchestrator cancels them on Buildkite and their slots free up.
// A key is judged by its image alone: in host mode a build of an image the
// spec still expects is never obsolete, whichever host it is pinned to.
// wanted is typically a lookup in ActiveImages of the current and staged
// specs; the spec preview passes the specs a change would leave.
func Obsolete(recs []Record, wanted func(image string) bool) []Record {
	var out []Record
	for i := range recs {
		if obsolete(&recs[i], wanted) {
			out = append(out, recs[i])
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// obsolete is Obsolete's rule for one record.
func obsolete(r *Record, wanted func(image string) bool) bool {
	return r.State.Live() && !wanted(r.Image)
}
