package agentd

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// sourceLocal is the tart source of a local VM; only local VMs count for
// readiness (an OCI cache entry must be cloned before a job can use it).
const sourceLocal = "local"

// evaluate decides every release's readiness from one tart listing (docs/agent.md).
//
// Per release r, with expected name E = spec.ImageName(r):
//   - listErr != nil: tart_error, with the cause in Detail (never image_missing:
//     a failing tart says nothing about the images);
//   - a local VM named exactly E: ready (whatever its state: a finished build
//     is renamed to E only when complete, so E is never half-built);
//   - else a local VM whose name parses with the template to release r and the
//     spec's bun version but another bootstrap: bootstrap_mismatch (the host
//     has this release's image, built for another bootstrap; Detail names it);
//   - else image_missing, with Detail naming what came closest (an OCI cache
//     entry, a VM under a temporary build name, another bun version).
//
// An active forced state then overrides ready and reason (forced_ready,
// forced_not_ready) and Detail keeps what the check found.
func evaluate(spec events.ImageSpec, vms []events.VM, listErr error, forced *events.Forced, now time.Time) []events.ReleaseStatus {
	inv := indexInventory(spec, vms)
	out := make([]events.ReleaseStatus, 0, len(spec.Releases))
	for _, r := range spec.Releases {
		st, found := inv.status(spec, r, listErr)
		if !found {
			st.Reason, st.Detail = inv.missing(spec, r, st.ExpectedImage)
		}
		if forced.Active(now) {
			applyForced(&st, forced)
		}
		out = append(out, st)
	}
	return out
}

// status is release r's status against spec as far as the listing settles
// it: tart_error when the listing failed, ready when a local VM bears the
// expected name (found true either way); else only the release, expected
// image and versions, for the caller to say why it is missing.
func (inv *inventory) status(spec events.ImageSpec, r string, listErr error) (st events.ReleaseStatus, found bool) {
	st = events.ReleaseStatus{
		Release: r, ExpectedImage: spec.ImageName(r),
		Bun: spec.BunVersion, Bootstrap: spec.BootstrapVersion,
	}
	switch {
	case listErr != nil:
		st.Reason, st.Detail = events.ReasonTartError, listErr.Error()
	case inv.local[st.ExpectedImage]:
		st.Ready, st.Reason = true, events.ReasonReady
	default:
		return st, false
	}
	return st, true
}

// inventory is one listing indexed once per check, whatever the number of releases.
type inventory struct {
	local   map[string]bool
	ours    map[string][]ourVM // by release, in listing order
	foreign []string           // local VMs whose names do not parse
	oci     map[string]bool
}

type ourVM struct {
	name string
	ref  events.ImageRef
}

func indexInventory(spec events.ImageSpec, vms []events.VM) inventory {
	inv := inventory{local: make(map[string]bool, len(vms)), ours: map[string][]ourVM{}, oci: map[string]bool{}}
	// One compile of the template per check, not one per VM. A bad
	// template gives the zero parser, which parses nothing, as ParseName.
	parser, _ := spec.NameParser()
	for _, v := range vms {
		if !strings.EqualFold(v.Source, sourceLocal) {
			inv.oci[v.Name] = true
			continue
		}
		inv.local[v.Name] = true
		if ref, ok := parser.Parse(v.Name); ok {
			inv.ours[ref.Release] = append(inv.ours[ref.Release], ourVM{v.Name, ref})
		} else {
			inv.foreign = append(inv.foreign, v.Name)
		}
	}
	return inv
}

// missing explains why release r's expected image is absent.
func (inv inventory) missing(spec events.ImageSpec, r, expected string) (events.Reason, string) {
	otherBun := ""
	for _, v := range inv.ours[r] {
		if v.ref.Bun == spec.BunVersion && v.ref.Bootstrap != spec.BootstrapVersion {
			return events.ReasonBootstrapMismatch, fmt.Sprintf("found %s with bootstrap %s, want bootstrap %s", v.name, v.ref.Bootstrap, spec.BootstrapVersion)
		}
		if v.ref.Bootstrap == spec.BootstrapVersion && otherBun == "" {
			otherBun = v.name
		}
	}
	for _, n := range inv.foreign {
		if strings.Contains(n, expected) {
			return events.ReasonImageMissing, fmt.Sprintf("only %s exists (a build in progress under a temporary name?)", n)
		}
	}
	for _, n := range []string{expected, spec.RegistryRef(r)} {
		if n != "" && inv.oci[n] {
			return events.ReasonImageMissing, fmt.Sprintf("only in tart's OCI cache as %s: clone it to a local VM", n)
		}
	}
	if otherBun != "" {
		return events.ReasonImageMissing, fmt.Sprintf("found %s, another bun version", otherBun)
	}
	return events.ReasonImageMissing, ""
}

func applyForced(st *events.ReleaseStatus, f *events.Forced) {
	was := string(st.Reason)
	if st.Detail != "" {
		was += ": " + st.Detail
	}
	by := ""
	if f.SetBy != "" {
		by = " by " + f.SetBy
	}
	until := ""
	if !f.Until.IsZero() {
		until = " until " + f.Until.UTC().Format(time.RFC3339)
	}
	st.Detail = fmt.Sprintf("forced%s%s; check says %s", by, until, was)
	if f.State == events.ForcedReady {
		st.Ready, st.Reason = true, events.ReasonForcedReady
		return
	}
	st.Ready, st.Reason = false, events.ReasonForcedNotReady
}

// allReady reports whether every release is ready (false for none).
func allReady(rs []events.ReleaseStatus) bool {
	for _, r := range rs {
		if !r.Ready {
			return false
		}
	}
	return len(rs) > 0
}
