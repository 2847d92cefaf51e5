package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// ErrUnknownRevision means a rollback named a revision the spec's history
// does not hold.
var ErrUnknownRevision = errors.New("unknown revision")

// ErrNotRestorable means a rollback named a revision that was never a spec
// in force (a staged spec, a delete) or is the one in force, or that there
// is nothing earlier to go back to.
var ErrNotRestorable = errors.New("revision cannot be restored")

// errNoBucket: the orchestrator runs without NATS (tests), so without the
// spec's history.
var errNoBucket = fmt.Errorf("no KV bucket %s: the spec's history is not available", events.BucketSpec)

// SpecRollback is POST /api/v1/spec/rollback: an operator's `vmfleet spec
// rollback`.
type SpecRollback struct {
	// Revision is the revision of key current to restore; 0 is the latest
	// one before the spec in force with other images.
	Revision uint64 `json:"revision,omitempty"`
	// By names the operator (events.Spec.UpdatedBy).
	By string `json:"by,omitempty"`
	// Reason says why; the spec records "rollback to revision N: Reason".
	Reason string `json:"reason,omitempty"`
	// DryRun and Confirm are SpecUpdate's: a rollback passes the same
	// preview and gate as any spec set.
	DryRun  bool `json:"dry_run,omitempty"`
	Confirm bool `json:"confirm,omitempty"`
}

// HistoryEntries turns a history of the spec keys (bus.SpecHistory: revision
// order) into its changes, newest first, each with the key's previous entry
// and what changed from it. A staged spec with no previous entry (or after
// a delete) is described against the current spec of its time.
func HistoryEntries(hist []events.SpecRevision) []events.SpecHistoryEntry {
	hist = slices.Clone(hist)
	slices.SortStableFunc(hist, func(a, b events.SpecRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	last := map[string]*events.SpecRevision{}
	out := make([]events.SpecHistoryEntry, 0, len(hist))
	for i := range hist {
		h := &hist[i]
		c := events.SpecHistoryEntry{Revision: h.Revision, Key: h.Key, At: h.At, Deleted: h.Deleted}
		if !h.Deleted {
			c.By, c.Reason, c.Images = h.Spec.UpdatedBy, h.Spec.Reason, h.Spec.Images
		}
		prev := last[h.Key]
		if prev != nil {
			c.Previous = prev.Revision
			if !prev.Deleted {
				im := prev.Spec.Images
				c.PreviousImages = &im
			}
		}
		c.Changed = describe(h, prev, last[events.SpecKey])
		if base := baseOf(h, prev, last[events.SpecKey]); base != nil {
			c.Changes = Changes(base.Spec.Images, h.Spec.Images)
		}
		last[h.Key] = h
		out = append(out, c)
	}
	slices.Reverse(out)
	return out
}

// baseOf is the entry h is compared with: the key's previous entry, or for
// a new staged spec the current spec of its time; nil when none (or h is a
// delete).
func baseOf(h, prev, cur *events.SpecRevision) *events.SpecRevision {
	switch {
	case h.Deleted:
		return nil
	case prev != nil && !prev.Deleted:
		return prev
	case h.Key == events.NextSpecKey && cur != nil && !cur.Deleted:
		return cur
	}
	return nil
}

// describe says what h changed from prev (the key's previous entry, nil:
// none); cur is the latest entry of key current before h.
func describe(h, prev, cur *events.SpecRevision) string {
	switch {
	case h.Deleted && h.Key == events.NextSpecKey:
		if prev != nil && !prev.Deleted && cur != nil && !cur.Deleted && sameImages(prev.Spec.Images, cur.Spec.Images) {
			return "staged spec promoted"
		}
		return "staged spec removed"
	case h.Deleted:
		return "deleted"
	case h.Key == events.NextSpecKey && (prev == nil || prev.Deleted):
		if cur == nil || cur.Deleted {
			return "staged: " + summary(h.Spec.Images)
		}
		return "staged: " + diff(cur.Spec, h.Spec)
	case prev == nil || prev.Deleted:
		return "first in history: " + summary(h.Spec.Images)
	}
	return diff(prev.Spec, h.Spec)
}

func sameImages(a, b events.ImageSpec) bool {
	return SameSpec(events.Spec{Images: a}, events.Spec{Images: b})
}

// summary names a spec's images in a few words.
func summary(im events.ImageSpec) string {
	return fmt.Sprintf("releases %s, bun %s, bootstrap %s, registry %s", releases(im.Releases), im.BunVersion,
		im.BootstrapVersion, registry(im.Registry))
}

func releases(r []string) string {
	if len(r) == 0 {
		return "(none)"
	}
	return strings.Join(r, ",")
}

func registry(r string) string {
	if r == "" {
		return "(none: built on each host)"
	}
	return r
}

// diff names the fields that differ from a to b: "bootstrap 3.6 → 3.7;
// releases 13,14 → 99"; "no change" when none does.
func diff(a, b events.Spec) string {
	var parts []string
	for _, c := range Changes(a.Images, b.Images) {
		from, to := c.From, c.To
		if c.Field == "registry" {
			from, to = registry(from), registry(to)
		}
		parts = append(parts, c.Field+" "+orNone(from)+" → "+orNone(to))
	}
	if !SameSpec(events.Spec{Cleanup: a.Cleanup}, events.Spec{Cleanup: b.Cleanup}) {
		parts = append(parts, "cleanup policy")
	}
	if a.AutoPromote != b.AutoPromote {
		parts = append(parts, "auto-promote "+share(a.AutoPromote)+" → "+share(b.AutoPromote))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func share(f float64) string {
	if f == 0 {
		return "by hand"
	}
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}

// History reads the spec keys' history from KV and returns its changes,
// newest first (HistoryEntries).
func (p *Ops) History(ctx context.Context) ([]events.SpecHistoryEntry, error) {
	if p.Core.KV() == nil {
		return nil, errNoBucket
	}
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	hist, err := bus.SpecHistory(kctx, p.Core.KV())
	if err != nil {
		return nil, err
	}
	return HistoryEntries(hist), nil
}

// RollbackUpdate resolves a rollback against the spec's history in KV: the
// update that makes the chosen revision's images current again, with every
// image field set, to go through the same path as any spec set
// (Ops.SetSpec). An unknown revision is ErrUnknownRevision, a revision of
// key next, a delete, the spec in force or an empty history
// ErrNotRestorable; both errors list the revisions that can be restored.
func (p *Ops) RollbackUpdate(ctx context.Context, r SpecRollback) (SpecUpdate, error) {
	if err := p.Core.Writable(); err != nil {
		return SpecUpdate{}, err
	}
	if p.Core.KV() == nil {
		return SpecUpdate{}, errNoBucket
	}
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	hist, err := bus.SpecHistory(kctx, p.Core.KV())
	if err != nil {
		return SpecUpdate{}, err
	}
	target, err := rollbackTarget(hist, r.Revision)
	if err != nil {
		return SpecUpdate{}, err
	}
	im := target.Spec.Images
	reason := fmt.Sprintf("rollback to revision %d", target.Revision)
	if r.Reason != "" {
		reason += ": " + r.Reason
	}
	return SpecUpdate{BootstrapVersion: &im.BootstrapVersion, BunVersion: &im.BunVersion,
		Releases: slices.Clone(im.Releases), Registry: &im.Registry, By: r.By, Reason: reason,
		DryRun: r.DryRun, Confirm: r.Confirm, Action: ActionRollback}, nil
}

// rollbackTarget picks the entry of key current a rollback restores (see
// SpecRollback.Revision).
func rollbackTarget(hist []events.SpecRevision, rev uint64) (events.SpecRevision, error) {
	var cur []events.SpecRevision // key current, not deleted, newest first
	for i := len(hist) - 1; i >= 0; i-- {
		if h := hist[i]; h.Key == events.SpecKey && !h.Deleted {
			cur = append(cur, h)
		}
	}
	if len(cur) == 0 {
		return events.SpecRevision{}, fmt.Errorf("%w: the spec's history holds no spec in force", ErrNotRestorable)
	}
	inForce := cur[0]
	restorable := func() string {
		var revs []string
		for _, h := range cur[1:] {
			if len(revs) == 10 {
				revs = append(revs, "...")
				break
			}
			revs = append(revs, strconv.FormatUint(h.Revision, 10))
		}
		if len(revs) == 0 {
			return "none: the history holds no earlier spec in force"
		}
		return strings.Join(revs, ", ") + " (vmfleet spec history)"
	}
	if rev == 0 {
		for _, h := range cur[1:] {
			if !sameImages(h.Spec.Images, inForce.Spec.Images) {
				return h, nil
			}
		}
		return events.SpecRevision{}, fmt.Errorf("%w: no earlier revision has other images than the spec in force (revision %d); revisions that can be restored: %s",
			ErrNotRestorable, inForce.Revision, restorable())
	}
	for _, h := range hist {
		if h.Revision != rev {
			continue
		}
		switch {
		case h.Key != events.SpecKey:
			return events.SpecRevision{}, fmt.Errorf("%w: revision %d is a staged spec (key %s), not a spec that was in force; revisions that can be restored: %s",
				ErrNotRestorable, rev, h.Key, restorable())
		case h.Deleted:
			return events.SpecRevision{}, fmt.Errorf("%w: revision %d deleted the spec; revisions that can be restored: %s",
				ErrNotRestorable, rev, restorable())
		case rev == inForce.Revision:
			return events.SpecRevision{}, fmt.Errorf("%w: revision %d is the spec in force; revisions that can be restored: %s",
				ErrNotRestorable, rev, restorable())
		}
		return h, nil
	}
	return events.SpecRevision{}, fmt.Errorf("%w: revision %d is not in the spec's history (it keeps the last %d changes of each key); revisions that can be restored: %s",
		ErrUnknownRevision, rev, events.SpecHistory, restorable())
}
