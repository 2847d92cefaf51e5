package fleetsim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// registry is the simulated OCI registry: the references builds pushed.
type registry struct {
	mu     sync.Mutex
	pushed map[string]bool
}

func (r *registry) push(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pushed == nil {
		r.pushed = map[string]bool{}
	}
	r.pushed[ref] = true
}

func (r *registry) has(ref string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pushed[ref]
}

// isRef tells an OCI reference from a local VM name, as tart does.
func isRef(s string) bool { return strings.Contains(s, "/") }

// hostTart is one host's tart: the in-memory fake, whose pulls must find the
// image in the simulated registry and whose deletes are checked against the
// cleanup rules at the moment they happen. It satisfies agentd.Tart.
type hostTart struct {
	*tarttest.Fake
	host string
	sim  *Sim
}

// Clone pulls when src is a reference: real tart fails on a reference nobody
// pushed, and so does this one (and the pull counts as a violation).
func (t *hostTart) Clone(ctx context.Context, src, dst string) error {
	if isRef(src) && !t.sim.reg.has(src) {
		t.sim.violate(Violation{Kind: VPullNotPushed, Host: t.host, VM: dst,
			Detail: fmt.Sprintf("pull of %s, which no build has pushed", src)})
		return &tart.Error{Args: []string{"clone", src, dst}, ExitCode: 1, Kind: tart.ErrNotFound,
			Stderr: "Error: manifest unknown: " + src}
	}
	if isRef(src) {
		t.sim.chaos.pulling(t.host)
		// Counted before the image appears: the agent may report it (and
		// the fleet converge, ending the run) before Clone returns.
		t.sim.ledger.pulled(1)
	}
	err := t.Fake.Clone(ctx, src, dst)
	if err != nil && isRef(src) {
		t.sim.ledger.pulled(-1)
	}
	return err
}

// Delete checks the VM against the rules before the fake deletes it. A
// delete the world forbids as an expected image is judged again after
// reading the spec from KV: the world's watch may be behind a change the
// agent already saw (an auto-promotion).
func (t *hostTart) Delete(ctx context.Context, name string) error {
	t.sim.chaos.deleting(t.host)
	vms, _ := t.Fake.List(context.WithoutCancel(ctx))
	vs := deleteViolations(t.sim.deleteRules(t.host, name), vms, name, time.Now())
	if slices.ContainsFunc(vs, func(v Violation) bool { return v.Kind == VDeletedExpected }) {
		t.sim.resync(ctx, true)
		vs = deleteViolations(t.sim.deleteRules(t.host, name), vms, name, time.Now())
	}
	for _, v := range vs {
		v.Host = t.host
		t.sim.violate(v)
	}
	// Counted before the VM goes: the agent may report it gone (and the
	// fleet converge, ending the run) before Delete returns.
	t.sim.ledger.deleted(1)
	err := t.Fake.Delete(ctx, name)
	if err != nil {
		t.sim.ledger.deleted(-1)
	}
	return err
}

// rules is what a delete is judged by: the spec in force, the staged spec
// (nil: none), whether a cleanup window is open, until when the
// removal grace keeps the VM (zero: it never left an active spec), and
// whether the host's disk is in an emergency (which lifts the window, the
// grace and the wait for the replacement).
type rules struct {
	spec       events.ImageSpec
	next       *events.ImageSpec
	open       bool
	graceUntil time.Time
	emergency  bool
}

// deleteViolations is every rule a delete of name at now breaks, judged on
// the live inventory and r (docs/orchestrator.md#cleanup). It is written
// apart from package cleanup on purpose: it checks the rules, not the code
// that applies them.
func deleteViolations(r rules, vms []events.VM, name string, now time.Time) []Violation {
	spec := r.spec
	local := map[string]bool{}
	var vm *events.VM
	for i := range vms {
		if strings.EqualFold(vms[i].Source, "local") {
			local[vms[i].Name] = true
		}
		if vms[i].Name == name {
			vm = &vms[i]
		}
	}
	if vm == nil {
		return nil // tart answers "does not exist"; nothing is lost
	}
	var out []Violation
	add := func(kind, detail string) { out = append(out, Violation{Kind: kind, VM: name, Detail: detail}) }
	if vm.Busy() {
		add(VDeletedBusy, "the VM is "+vm.State)
	}
	if !local[name] {
		add(VDeletedNotLocal, "an OCI cache entry, not a local VM")
	}
	ref, ours := spec.ParseName(name)
	if !ours {
		add(VDeletedNotOurs, "the name does not parse with "+spec.NameTemplate)
	}
	expected := false
	for _, rel := range spec.Releases {
		if spec.ImageName(rel) == name {
			expected = true
			add(VDeletedExpected, "the expected image of release "+rel)
		}
	}
	if r.next != nil && !expected {
		for _, rel := range r.next.Releases {
			if r.next.ImageName(rel) == name {
				add(VDeletedExpected, "the staged image of release "+rel)
			}
		}
	}
	if ours && spec.HasRelease(ref.Release) && !local[spec.ImageName(ref.Release)] && !r.emergency {
		add(VDeletedBeforeReplacement, "release "+ref.Release+"'s replacement "+spec.ImageName(ref.Release)+" is not on the host")
	}
	if !r.open && !r.emergency {
		add(VDeletedOutsideWindow, "no cleanup window is open")
	}
	if now.Before(r.graceUntil) && !r.emergency {
		add(VDeletedWithinGrace, "it left the active specs less than the removal grace ago (kept until "+r.graceUntil.Format(time.RFC3339Nano)+")")
	}
	return out
}
