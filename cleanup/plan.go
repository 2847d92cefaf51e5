package cleanup

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// sourceLocal is the only events.VM Source that is ever pruned.
const sourceLocal = "local"

// Input is everything Plan looks at for one host.
type Input struct {
	Spec   events.ImageSpec
	Policy events.CleanupPolicy
	// VMs is the host's inventory (tart list), local and OCI entries alike.
	VMs []events.VM
	// Releases is the host's per-release readiness, as it reported it.
	Releases []events.ReleaseStatus
	// Disk is the filesystem holding $TART_HOME; nil when unknown.
	Disk *events.Disk
	// Now is when the plan is made. When set, a Window whose Closes is not
	// after Now counts as closed (the state was computed earlier in the pass).
	Now time.Time
	// Window is the cleanup windows' state, from (*Windows).State once per pass.
	Window WindowState
	// PruneNow is an operator's `vmfleet prune --now`: windows do not apply.
	PruneNow bool
	// Only, when non-nil, restricts pruning to these names (the agent's
	// re-check of a prune request); an empty non-nil Only prunes nothing.
	Only []string
	// Next is the staged spec (KV key next), nil when no rollout is in
	// progress: its expected images are kept (staged_image) like the
	// spec's own.
	Next *events.ImageSpec
	// Retain is the images still in their removal grace
	// (events.Retained over the spec keys' history, at Now): kept
	// (removed_grace) while Now is before their Until.
	Retain []events.RetainedImages
}

// Result is the plan for one host. Every inventory entry is in exactly one
// of Prune and Keep; both are sorted by VM name.
type Result struct {
	Prune []Decision `json:"prune"`
	Keep  []Decision `json:"keep"`
	// Gone lists the names in Only that are not in the inventory (already
	// deleted: the caller treats them as done), sorted.
	Gone []string `json:"gone,omitempty"`
	// DiskEmergency: free space is under the policy's threshold.
	DiskEmergency bool `json:"disk_emergency,omitempty"`
	// WindowOpen is whether a cleanup window was open at Now.
	WindowOpen bool `json:"window_open"`
	// PruneNow echoes Input.PruneNow.
	PruneNow bool `json:"prune_now,omitempty"`
}

// PruneNames returns the names to prune, in order, as events.PruneRequest.VMs.
func (r Result) PruneNames() []string {
	names := make([]string, len(r.Prune))
	for i, d := range r.Prune {
		names[i] = d.VM
	}
	return names
}

// Plan decides, for every VM in the inventory, whether it is pruned (and
// why) or kept (and by which rule). The rules are docs/orchestrator.md#cleanup; see Rule and
// Reason for each, in the order they apply.
//
// A release's replacement is ready when the host reports it ready with reason
// "ready" for the spec's expected image (the one Plan computes now: a report
// made against an older spec does not count), and that image is a local VM in
// the inventory. "forced_ready" does not count: an operator can force a
// host ready whose image is missing, and pruning then would leave it with none.
//
// A disk emergency is Policy.DiskEmergencyFreeBytes > 0 and a known disk
// (TotalBytes > 0) with FreeBytes under it. It lifts removed_grace,
// replacement_not_ready and outside_window, never busy, expected_image,
// staged_image, not_ours or not_local: an emergency never deletes an image
// an active spec (current or next) expects.
func Plan(in Input) Result {
	p := newPlanner(in)
	res := Result{DiskEmergency: p.emergency, WindowOpen: p.windowOpen, PruneNow: in.PruneNow}
	res.Keep = make([]Decision, 0, len(p.vms)) // most VMs stay
	for _, e := range p.vms {
		if d := p.decide(e); d.Rule == "" {
			res.Prune = append(res.Prune, d)
		} else {
			res.Keep = append(res.Keep, d)
		}
	}
	for name := range p.only {
		if _, ok := p.find(name); !ok {
			res.Gone = append(res.Gone, name)
		}
	}
	slices.Sort(res.Gone)
	return res
}

// planner holds what every decision of one Plan call shares.
type planner struct {
	spec       events.ImageSpec
	vms        []entry // sorted by name
	only       map[string]bool
	dup        map[string]bool // names with several inventory entries
	expected   map[string]bool
	staged     map[string]bool
	retained   map[string]bool
	ready      map[string]bool
	keptBun    map[string]map[string]bool // release -> kept bun versions older than the spec's
	emergency  bool
	windowOpen bool
	pruneNow   bool
}

func newPlanner(in Input) *planner {
	p := &planner{
		spec:      in.Spec,
		expected:  make(map[string]bool, len(in.Spec.Releases)),
		ready:     make(map[string]bool, len(in.Spec.Releases)),
		emergency: diskEmergency(in.Policy, in.Disk),
		pruneNow:  in.PruneNow,
	}
	p.windowOpen = in.Window.Open && (in.Now.IsZero() || in.Window.Closes.IsZero() || in.Now.Before(in.Window.Closes))
	if in.Only != nil {
		p.only = make(map[string]bool, len(in.Only))
		for _, n := range in.Only {
			p.only[n] = true
		}
	}
	p.vms = entries(in.Spec, in.VMs)
	for i, e := range p.vms {
		if i > 0 && p.vms[i-1].vm.Name == e.vm.Name {
			if p.dup == nil {
				p.dup = map[string]bool{}
			}
			p.dup[e.vm.Name] = true
		}
	}
	for _, r := range in.Spec.Releases {
		p.expected[in.Spec.ImageName(r)] = true
	}
	if in.Next != nil {
		p.staged = make(map[string]bool, len(in.Next.Releases))
		for _, r := range in.Next.Releases {
			p.staged[in.Next.ImageName(r)] = true
		}
	}
	for _, ri := range in.Retain {
		if !in.Now.IsZero() && !in.Now.Before(ri.Until) {
			continue
		}
		if p.retained == nil {
			p.retained = map[string]bool{}
		}
		for _, name := range ri.Names() {
			p.retained[name] = true
		}
	}
	for _, st := range in.Releases {
		want := in.Spec.ImageName(st.Release)
		if in.Spec.HasRelease(st.Release) && st.Ready && st.Reason == events.ReasonReady && st.ExpectedImage == want && p.hasLocal(want) {
			p.ready[st.Release] = true
		}
	}
	p.keptBun = keptBun(in.Spec, in.Policy.KeepBunVersions, p.vms)
	return p
}

// find returns the index in p.vms of the first entry named name.
func (p *planner) find(name string) (int, bool) {
	return slices.BinarySearchFunc(p.vms, name, func(e entry, n string) int { return strings.Compare(e.vm.Name, n) })
}

// hasLocal reports whether the inventory holds a local VM named name.
func (p *planner) hasLocal(name string) bool {
	i, _ := p.find(name)
	for ; i < len(p.vms) && p.vms[i].vm.Name == name; i++ {
		if p.vms[i].local {
			return true
		}
	}
	return false
}

// entry is an inventory entry with its name parsed once.
type entry struct {
	vm    *events.VM
	local bool // Source is local
	ours  bool // the name parses with the template and is a valid VM name
	ref   events.ImageRef
}

func entries(spec events.ImageSpec, vms []events.VM) []entry {
	parser, _ := spec.NameParser() // a bad template parses nothing: nothing is ours
	order := make([]int, len(vms))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Or(strings.Compare(vms[a].Name, vms[b].Name), cmp.Compare(a, b)) })
	es := make([]entry, len(vms))
	for k, i := range order {
		vm := &vms[i]
		es[k] = entry{vm: vm, local: vm.Source == sourceLocal}
		if es[k].local {
			ref, ok := parser.Parse(vm.Name)
			es[k].ref, es[k].ours = ref, ok && events.ValidateVMName(vm.Name) == nil
		}
	}
	return es
}

func diskEmergency(pol events.CleanupPolicy, d *events.Disk) bool {
	return pol.DiskEmergencyFreeBytes > 0 && d != nil && d.TotalBytes > 0 && d.FreeBytes < pol.DiskEmergencyFreeBytes
}

// keptBun returns, per release of the spec, the bun versions older than the
// spec's that keep (keep_bun_versions - 1 newest distinct ones among local VMs
// of ours with the spec's bootstrap; keep <= 0 means the default, 1).
func keptBun(spec events.ImageSpec, keep int, es []entry) map[string]map[string]bool {
	if keep <= 1 {
		return nil
	}
	older := map[string][]string{}
	for _, e := range es {
		ref := e.ref
		if e.local && e.ours && spec.HasRelease(ref.Release) && ref.Bootstrap == spec.BootstrapVersion && events.CompareVersions(ref.Bun, spec.BunVersion) < 0 {
			older[ref.Release] = append(older[ref.Release], ref.Bun)
		}
	}
	kept := make(map[string]map[string]bool, len(older))
	for rel, vs := range older {
		// Newest first; versions that compare equal ("1.2" and "1.2.0" do
		// not, "1.2.15" and "1.2.015" do) share a slot.
		slices.SortFunc(vs, func(a, b string) int { return cmp.Or(events.CompareVersions(b, a), strings.Compare(a, b)) })
		kept[rel] = map[string]bool{}
		slots := 0
		for i, v := range vs {
			if i == 0 || events.CompareVersions(vs[i-1], v) != 0 {
				slots++
			}
			if slots > keep-1 {
				break
			}
			kept[rel][v] = true
		}
	}
	return kept
}
