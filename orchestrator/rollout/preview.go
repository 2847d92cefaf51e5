package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// DefaultConfirmNotReadyFraction is the share of non-stale hosts a change may
// make not ready without an explicit confirmation (config key
// spec.confirm_not_ready_fraction).
const DefaultConfirmNotReadyFraction = 0.10

// Actions of a previewed change (Impact.Action).
const (
	ActionSet      = "set"
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// Per-release changes (ReleaseImpact.Change).
const (
	ReleaseAdded     = "added"
	ReleaseRemoved   = "removed"
	ReleaseChanged   = "changed"   // another image for the release
	ReleaseUnchanged = "unchanged" // the same image
	ReleaseOther     = "other"     // in neither spec: only builds to cancel
)

// Fleet is the snapshot of the fleet a preview looks at.
type Fleet struct {
	// Now is the orchestrator's clock.
	Now time.Time
	// Current is the spec in force, Next the staged spec (nil: none).
	Current events.Spec
	Next    *events.Spec
	// Hosts is the last report of every non-stale host (never modified).
	Hosts []*events.HostHealth
	// Builds is every build record.
	Builds []builds.Record
	// Retained is the images in their removal grace now (events.Retained).
	Retained []events.RetainedImages
	// ConfirmNotReadyFraction is spec.confirm_not_ready_fraction (0: the
	// default, DefaultConfirmNotReadyFraction).
	ConfirmNotReadyFraction float64
}

// Change is a proposed spec change: the spec in force after it, and the
// staged spec after it (a set keeps the staged spec; a promote ends it).
type Change struct {
	Action string
	To     events.Spec
	Next   *events.Spec
}

// Impact is the preview of a spec change: what it would do to the fleet, per
// release, and whether it needs an explicit confirmation.
type Impact struct {
	Action string `json:"action"`
	// From and To are the images in force before and after.
	From events.ImageSpec `json:"from"`
	To   events.ImageSpec `json:"to"`
	// Hosts counts the non-stale hosts the preview looked at.
	Hosts    int             `json:"hosts"`
	Releases []ReleaseImpact `json:"releases"`
	Total    ImpactTotal     `json:"total"`
	// Removed is the releases of From that To drops.
	Removed []string `json:"removed_releases,omitempty"`
	// CancelBuilds is the keys of the builds that would be cancelled.
	CancelBuilds []string `json:"cancel_builds,omitempty"`
	// NotReadyFraction is Total.NotReady over Hosts.
	NotReadyFraction float64 `json:"not_ready_fraction"`
	// ConfirmNotReadyFraction is the threshold in force
	// (spec.confirm_not_ready_fraction).
	ConfirmNotReadyFraction float64 `json:"confirm_not_ready_fraction"`
	// ConfirmNeeded: the change removes a release or makes more than
	// ConfirmNotReadyFraction of the hosts not ready; Why says which.
	ConfirmNeeded bool     `json:"confirm_needed"`
	Why           []string `json:"why,omitempty"`
	// PrunableAfter is when the images the change removes leave their
	// removal grace (Now plus the longer grace of the two specs): prune
	// candidates go no earlier.
	PrunableAfter time.Time `json:"prunable_after"`
}

// ReleaseImpact is one release's part of an Impact.
type ReleaseImpact struct {
	Release string `json:"release"`
	// Change is added, removed, changed, unchanged or other.
	Change string `json:"change"`
	// FromImage and ToImage are the release's image before and after ("":
	// not in that spec).
	FromImage string `json:"from_image,omitempty"`
	ToImage   string `json:"to_image,omitempty"`
	// NotReady counts hosts ready for the release now that would not be.
	NotReady int `json:"not_ready"`
	// ReadyAfter counts hosts that would be ready for it at once.
	ReadyAfter int `json:"ready_after"`
	// Missing counts hosts that would lack a new image (to pull or build).
	Missing int `json:"missing"`
	// NoSpace counts those of them whose disk, as last reported, has less
	// free than the image would take beside what the host holds
	// (cleanup.RoomNeeded, the new images missing before it counted as
	// taken) plus the disk emergency threshold: getting it may fail for
	// space until the host's old images are pruned.
	NoSpace int `json:"no_space"`
	// BuildsStart and BuildsCancel count builds that would start or be
	// cancelled; Pulls the pulls of an image already pushed.
	BuildsStart  int `json:"builds_start"`
	BuildsCancel int `json:"builds_cancel"`
	Pulls        int `json:"pulls"`
	// PruneVMs and PruneGB are the VMs (and their size on disk) that would
	// become prune candidates, after the removal grace.
	PruneVMs int `json:"prune_vms"`
	PruneGB  int `json:"prune_gb"`
	// Retained: the new image is one in its removal grace (hosts still
	// hold it: a rollback).
	Retained bool `json:"retained,omitempty"`
}

// ImpactTotal sums an Impact's releases; NotReady counts distinct hosts.
type ImpactTotal struct {
	NotReady int `json:"not_ready"`
	// NoSpace counts distinct hosts short of room for a new image.
	NoSpace      int `json:"no_space"`
	BuildsStart  int `json:"builds_start"`
	BuildsCancel int `json:"builds_cancel"`
	Pulls        int `json:"pulls"`
	PruneVMs     int `json:"prune_vms"`
	PruneGB      int `json:"prune_gb"`
}

// Preview is the impact of change c on fleet f. It is pure.
//
// Per release of the spec in force before (From) and after (To):
//   - a host ready for the release now becomes not ready when the release
//     leaves the spec, or when its image changes and the host holds no
//     local VM of the new name (a host whose staged image is ready holds
//     it); an active forced state keeps the host as forced;
//   - hosts lacking a new image need it: in registry mode one build of the
//     image unless it is pushed (then pulls), else one build per host; a
//     key whose build is live starts nothing;
//   - a host lacking a new image is short of room for it when its last
//     reported disk has less free than the image would take (the size of
//     the release's image in force there, else its largest VM; the new
//     images missing before it in To's order counted as taken) plus To's
//     disk emergency threshold (cleanup.Fits);
//   - builds cancelled are the live records no active spec (To, and the
//     staged spec after the change) wants (builds.Obsolete);
//   - prune candidates are the host VMs the cleanup rules (cleanup.Plan,
//     grace lapsed) would make candidates after the change and not before.
//
// A change needs confirmation when it removes a release some host serves or
// holds an image of, or makes more than
// f.ConfirmNotReadyFraction of the non-stale hosts not ready for a release
// they serve now.
func Preview(f Fleet, c Change) Impact {
	from, to := f.Current.Images, c.To.Images
	threshold := f.ConfirmNotReadyFraction
	if threshold <= 0 {
		threshold = DefaultConfirmNotReadyFraction
	}
	im := Impact{Action: c.Action, From: from, To: to, Hosts: len(f.Hosts), ConfirmNotReadyFraction: threshold,
		PrunableAfter: f.Now.Add(max(f.Current.Cleanup.Grace(), c.To.Cleanup.Grace()))}
	rows := newRows(from, to, f.Retained)
	im.Removed = RemovedReleases(from, to)
	live := map[string]*builds.Record{}
	for i := range f.Builds {
		live[f.Builds[i].Key] = &f.Builds[i]
	}
	// Image names and build wants once per release, not per host.
	type relWant struct {
		row  *ReleaseImpact
		want builds.Want // the fleet's build, or a template without host
	}
	var rels []relWant
	for _, row := range rows.list {
		if row.Change != ReleaseOther {
			rels = append(rels, relWant{row: row, want: wantOf(to, row.Release, "")})
		}
	}
	registryStarts := map[string]bool{} // releases whose fleet build would start
	reserve := max(c.To.Cleanup.DiskEmergencyFreeBytes, 0)
	served := map[string]bool{} // removed releases some host serves or holds
	plans := planCache{}
	for _, h := range f.Hosts {
		lost, short := false, false
		var taken int64 // bytes of the new images missing so far
		forced := h.Forced.Active(f.Now)
		for _, rw := range rels {
			row := rw.row
			now := row.FromImage != "" && readyFor(h, row.Release)
			var after bool
			switch {
			case row.ToImage == "":
			case row.Change == ReleaseUnchanged:
				after = now
			case forced:
				after = h.Forced.State == events.ForcedReady
			default:
				after = h.TartError == "" && holds(h, row.ToImage)
			}
			if after {
				row.ReadyAfter++
			}
			if now && !after {
				row.NotReady++
				lost = true
			}
			if row.Change == ReleaseRemoved && (now || holds(h, row.FromImage)) {
				served[row.Release] = true
			}
			if row.ToImage == "" || row.Change == ReleaseUnchanged || holds(h, row.ToImage) {
				continue
			}
			row.Missing++
			need := cleanup.RoomNeeded(row.FromImage, h.VMs)
			if cleanup.Fits(h.Disk, taken+need, reserve) {
				taken += need
			} else {
				row.NoSpace++
				short = true
			}
			w := rw.want
			if to.Registry == "" {
				w.Host, w.Key = h.Host, w.Key+"/"+h.Host
			}
			switch rec := live[w.Key]; {
			case rec != nil && rec.State.Live():
			case to.Registry != "" && builds.PassedFor(rec, w):
				row.Pulls++
			case to.Registry != "":
				registryStarts[row.Release] = true
			default:
				row.BuildsStart++
			}
		}
		if lost {
			im.Total.NotReady++
		}
		if short {
			im.Total.NoSpace++
		}
		plans.pruneCandidates(h, f, c, rows)
	}
	for rel := range registryStarts {
		rows.get(rel).BuildsStart++
	}
	var nextAfter *events.ImageSpec
	if c.Next != nil {
		nextAfter = &c.Next.Images
	}
	wanted := builds.ActiveImages(&to, nextAfter)
	for _, rec := range builds.Obsolete(f.Builds, func(image string) bool { return wanted[image] }) {
		rows.get(rec.Release).BuildsCancel++
		im.CancelBuilds = append(im.CancelBuilds, rec.Key)
	}
	for _, row := range rows.list {
		im.Releases = append(im.Releases, *row)
		im.Total.BuildsStart += row.BuildsStart
		im.Total.BuildsCancel += row.BuildsCancel
		im.Total.Pulls += row.Pulls
		im.Total.PruneVMs += row.PruneVMs
		im.Total.PruneGB += row.PruneGB
	}
	if im.Hosts > 0 {
		im.NotReadyFraction = float64(im.Total.NotReady) / float64(im.Hosts)
	}
	// Removing a release no host serves or holds (a typo being undone)
	// takes nothing from anyone; removing any other needs a yes.
	var removes []string
	for _, r := range im.Removed {
		if served[r] {
			removes = append(removes, r)
		}
	}
	if len(removes) > 0 {
		im.Why = append(im.Why, fmt.Sprintf("removes macOS %s", strings.Join(removes, ", ")))
	}
	if im.NotReadyFraction > threshold {
		im.Why = append(im.Why, fmt.Sprintf("makes %d of %d hosts (%s) not ready, more than spec.confirm_not_ready_fraction (%s)",
			im.Total.NotReady, im.Hosts, Percent(im.NotReadyFraction), Percent(threshold)))
	}
	im.ConfirmNeeded = len(im.Why) > 0
	return im
}

// RemovedReleases is the releases of from that to drops, in from's order.
func RemovedReleases(from, to events.ImageSpec) []string {
	var out []string
	for _, r := range from.Releases {
		if !to.HasRelease(r) {
			out = append(out, r)
		}
	}
	return out
}

// Percent writes a share of hosts as a percentage, e.g. 12.5%.
func Percent(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", f*100), "0"), ".") + "%"
}

// rows are an Impact's releases being counted: To's releases in order, then
// the removed ones, then any other release a build to cancel names.
type rows struct {
	list []*ReleaseImpact
	by   map[string]*ReleaseImpact
}

func newRows(from, to events.ImageSpec, retained []events.RetainedImages) *rows {
	rs := &rows{by: map[string]*ReleaseImpact{}}
	kept := map[string]bool{}
	for _, ri := range retained {
		for _, n := range ri.Names() {
			kept[n] = true
		}
	}
	for _, r := range to.Releases {
		row := rs.get(r)
		row.ToImage = to.ImageName(r)
		row.Retained = kept[row.ToImage]
		switch {
		case !from.HasRelease(r):
			row.Change = ReleaseAdded
		case from.ImageName(r) == row.ToImage:
			row.Change, row.FromImage = ReleaseUnchanged, row.ToImage
		default:
			row.Change, row.FromImage = ReleaseChanged, from.ImageName(r)
		}
	}
	for _, r := range from.Releases {
		if !to.HasRelease(r) {
			row := rs.get(r)
			row.Change, row.FromImage = ReleaseRemoved, from.ImageName(r)
		}
	}
	return rs
}

// get returns release r's row, added (as other) when new.
func (rs *rows) get(r string) *ReleaseImpact {
	if row := rs.by[r]; row != nil {
		return row
	}
	row := &ReleaseImpact{Release: r, Change: ReleaseOther}
	rs.by[r] = row
	rs.list = append(rs.list, row)
	return row
}

// readyFor reports whether h reports release r ready (of the spec in
// force). Once the change is in force h is ready for a release as now when
// its image is unchanged; else as forced, if forced; else when tart
// answers and a local VM bears the new name (agentd's rule).
func readyFor(h *events.HostHealth, r string) bool {
	st, ok := h.Release(r)
	return ok && st.Ready
}

// holds reports whether h's inventory has a local VM named name.
func holds(h *events.HostHealth, name string) bool {
	for _, v := range h.VMs {
		if v.Name == name && strings.EqualFold(v.Source, "local") {
			return true
		}
	}
	return false
}

// wantOf is the build that gets release r's image of im to host: the
// fleet's in registry mode, the host's own otherwise (as the reconcile
// pass derives it).
func wantOf(im events.ImageSpec, r, host string) builds.Want {
	img := im.ImageName(r)
	w := builds.Want{Image: img, Release: r, RegistryRef: im.RegistryRef(r), Bun: im.BunVersion, Bootstrap: im.BootstrapVersion}
	if im.Registry == "" {
		w.Host = host
	}
	w.Key = builds.RecordKey(img, w.Host)
	return w
}

// planCache keeps, per inventory (its VMs' names and sources, in order),
// the VMs that would become prune candidates: a fleet holds few distinct
// inventories, and a VM's candidate reason depends on nothing else.
type planCache map[string]map[string]string // inventory -> VM -> release

// pruneCandidates adds to the rows h's VMs that the cleanup rules would make
// prune candidates after change c (the removal grace lapsed, a window open)
// and do not before.
func (pc planCache) pruneCandidates(h *events.HostHealth, f Fleet, c Change, rs *rows) {
	var key strings.Builder
	for _, v := range h.VMs {
		key.WriteString(v.Name)
		key.WriteByte(0)
		key.WriteString(strings.ToLower(v.Source))
		key.WriteByte(0)
	}
	cands, ok := pc[key.String()]
	if !ok {
		cands = newCandidates(h.VMs, f, c)
		pc[key.String()] = cands
	}
	if len(cands) == 0 {
		return
	}
	counted := map[string]bool{} // a duplicate name is one candidate
	for _, v := range h.VMs {
		rel, ok := cands[v.Name]
		if !ok || counted[v.Name] {
			continue
		}
		counted[v.Name] = true
		row := rs.get(rel)
		row.PruneVMs++
		row.PruneGB += v.SizeGB
	}
}

// newCandidates returns, of an inventory, the VMs (with their release) the
// cleanup rules make candidates after change c and not before.
func newCandidates(vms []events.VM, f Fleet, c Change) map[string]string {
	plan := func(s events.Spec, next *events.Spec) map[string]string {
		in := cleanup.Input{Spec: s.Images, Policy: s.Cleanup, VMs: vms, Now: f.Now, PruneNow: true}
		if next != nil {
			in.Next = &next.Images
		}
		res := cleanup.Plan(in)
		out := map[string]string{}
		for _, ds := range [][]cleanup.Decision{res.Prune, res.Keep} {
			for _, d := range ds {
				if d.Reason != "" {
					out[d.VM] = d.Release
				}
			}
		}
		return out
	}
	before, after := plan(f.Current, f.Next), plan(c.To, c.Next)
	for name := range before {
		delete(after, name)
	}
	return after
}
