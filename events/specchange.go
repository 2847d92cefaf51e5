package events

import (
	"fmt"
	"time"
)

// TypeSpecChange is the CloudEvents type of a SpecHistoryEntry.
const TypeSpecChange = "dev.vmfleet.fleet.spec.v1"

// KindSpecChange is the family of <prefix>.fleet.spec.
const KindSpecChange Kind = "fleet.spec"

// SpecHistoryEntry is one change of a spec key (SpecKey or NextSpecKey) of KV
// bucket vmfleet_spec: an entry of the spec's history (GET
// /api/v1/spec/history, newest first) and the data the orchestrator (leader)
// publishes on <prefix>.fleet.spec (CloudEvents subject: the key) when it
// sees the change.
type SpecHistoryEntry struct {
	// Revision is the bucket's revision of the change; `vmfleet spec
	// rollback REVISION` restores a revision of key current.
	Revision uint64 `json:"revision"`
	// Key is SpecKey ("current") or NextSpecKey ("next", a staged spec).
	Key string `json:"key"`
	// At is when the change was written (the NATS server's time).
	At time.Time `json:"at"`
	// By and Reason are who made the change and why (Spec.UpdatedBy,
	// Spec.Reason).
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Images are the spec's images; zero when Deleted.
	Images ImageSpec `json:"images"`
	// Deleted: the key was deleted (a promoted or abandoned staged spec).
	Deleted bool `json:"deleted,omitempty"`
	// Previous is the revision of the key's entry before this one (0: the
	// first of the history), PreviousImages its images (nil when there was
	// none or it was a delete).
	Previous       uint64     `json:"previous,omitempty"`
	PreviousImages *ImageSpec `json:"previous_images,omitempty"`
	// Changed says in a few words what changed from Previous (for a new
	// staged spec: from the spec in force), e.g. "releases 13,14 → 99;
	// bootstrap 3.6 → 3.7"; Changes are the image fields that changed.
	Changed string            `json:"changed"`
	Changes []SpecFieldChange `json:"changes,omitempty"`
}

// SpecChange is <prefix>.fleet.spec.
func (s Subjects) SpecChange() string { return s.p() + ".fleet.spec" }

// Validate checks a spec change: a known key and a revision.
func (c SpecHistoryEntry) Validate() error {
	switch {
	case c.Key != SpecKey && c.Key != NextSpecKey:
		return fieldErr("key", fmt.Sprintf("unknown spec key %q", c.Key))
	case c.Revision == 0:
		return fieldErr("revision", "missing")
	}
	return nil
}
