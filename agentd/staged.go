package agentd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// evaluateStaged decides the status of every release of the staged spec next
// from the listing the current spec was checked against (no second `tart
// list`). Per release r, with expected name N = next.ImageName(r):
//   - listErr != nil: tart_error;
//   - a local VM named exactly N: ready;
//   - else no_space when the disk (known) has less free than the image would
//     take (roomNeeded) plus reserve, counting the staged images missing
//     before it in the spec's order as already taken: the host gets it after
//     promotion, since a staged image never makes a current one go;
//   - else image_missing, with Detail saying what came closest (as for the
//     current spec; another bootstrap's image is image_missing here).
//
// Forced states never apply: they are about running jobs on the current spec.
func evaluateStaged(cur, next events.ImageSpec, vms []events.VM, listErr error, disk *events.Disk, reserve int64) []events.ReleaseStatus {
	inv := indexInventory(next, vms)
	out := make([]events.ReleaseStatus, 0, len(next.Releases))
	var taken int64
	for _, r := range next.Releases {
		st, found := inv.status(next, r, listErr)
		if !found {
			need := roomNeeded(cur, r, vms)
			if ok, detail := fits(disk, taken+need, reserve); ok {
				taken += need
				_, st.Detail = inv.missing(next, r, st.ExpectedImage)
				st.Reason = events.ReasonImageMissing
			} else {
				st.Reason, st.Detail = events.ReasonNoSpace, detail
			}
		}
		out = append(out, st)
	}
	return out
}

// fits reports whether need bytes fit on disk leaving reserve free
// (cleanup.Fits); the detail of a refusal says the host gets the image
// after promotion.
func fits(disk *events.Disk, need, reserve int64) (bool, string) {
	if cleanup.Fits(disk, need, reserve) {
		return true, ""
	}
	return false, cleanup.Shortfall(disk, need, reserve) + ": gets it after promotion, never by deleting a current image"
}

// roomNeeded is what release r's new image takes on a host holding vms
// (cleanup.RoomNeeded), replacing cur's image of r if cur has r.
func roomNeeded(cur events.ImageSpec, r string, vms []events.VM) int64 {
	replaces := ""
	if cur.HasRelease(r) {
		replaces = cur.ImageName(r)
	}
	return cleanup.RoomNeeded(replaces, vms)
}

// stagedRelease returns the release of the staged spec whose image is name,
// when name is an image of the staged spec and of no release of the current
// spec (a staged-only image: the only kind whose pull or build is refused for
// space).
func (a *Agent) stagedRelease(name string) (string, bool) {
	cur, _ := a.Spec()
	next, _ := a.Next()
	if next == nil {
		return "", false
	}
	for _, r := range cur.Releases {
		if cur.ImageName(r) == name {
			return "", false
		}
	}
	for _, r := range next.Releases {
		if next.ImageName(r) == name {
			return r, true
		}
	}
	return "", false
}

// reserve is the disk emergency threshold of the spec in force (0: none).
func (a *Agent) reserve() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fullSpec == nil {
		return 0
	}
	return max(a.fullSpec.Cleanup.DiskEmergencyFreeBytes, 0)
}

// roomFor checks, from a fresh listing, that the staged-only image name
// fits beside everything the host holds; nil for any other image (a current
// image is always made: it heals the spec in force), or one the host
// already holds. It wraps ErrNoSpace when it does not fit. The caller holds
// the host lock when it is about to make the image.
func (a *Agent) roomFor(ctx context.Context, name string) error {
	r, staged := a.stagedRelease(name)
	if !staged {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	vms, err := a.tart.List(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("list VMs: %w", err)
	}
	if slices.ContainsFunc(vms, func(v events.VM) bool { return v.Name == name && strings.EqualFold(v.Source, sourceLocal) }) {
		return nil
	}
	cur, _ := a.Spec()
	if ok, detail := fits(a.disk(a.cfg.TartHome), roomNeeded(cur, r, vms), a.reserve()); !ok {
		return fmt.Errorf("staged image %s: %w: %s", name, ErrNoSpace, detail)
	}
	return nil
}

// RoomFor tells a build about to make image name on this host whether it
// may: nil, or an error wrapping ErrNoSpace when name is an image only the
// staged spec wants and it would not fit beside the current images (the
// host gets it after promotion). `vmfleet agent room` runs it before a
// build.
func (a *Agent) RoomFor(ctx context.Context, name string) error {
	if err := events.ValidateVMName(name); err != nil {
		return &events.FieldError{Field: "image", Reason: err.Error()}
	}
	return a.roomFor(ctx, name)
}
