package cleanup

import "github.com/vmfleet/vmfleet/events"

// Reason is why a VM is a candidate for pruning. When several apply, the
// first in this list wins: release_removed, bootstrap_outdated, bun_outdated.
type Reason string

// Candidate reasons.
const (
	// ReasonReleaseRemoved: the VM's release is no longer in the spec. There is
	// no replacement to wait for; the VM still goes only inside a window (or
	// in a disk emergency, or on an operator's prune --now).
	ReasonReleaseRemoved Reason = "release_removed"
	// ReasonBootstrapOutdated: the VM's bootstrap version differs from the
	// spec's (older or newer: the spec is the only bootstrap wanted).
	ReasonBootstrapOutdated Reason = "bootstrap_outdated"
	// ReasonBunOutdated: the VM has the spec's bootstrap, but its bun version is
	// older than the keep_bun_versions newest for its release. The spec's bun
	// version is always one of the kept ones; the others are the newest older
	// versions present on the host (0 counts as the default, 1: keep only the
	// spec's). A bun version newer than the spec's is never outdated: it is a
	// canary or a rollback, and deleting it is the operator's call.
	ReasonBunOutdated Reason = "bun_outdated"
)

// Rule is what protects a VM from pruning. Rules are checked in the order
// listed; a kept VM carries the first that applies.
type Rule string

// Protecting rules.
const (
	// RuleNotRequested: Input.Only is set and does not name the VM.
	RuleNotRequested Rule = "not_requested"
	// RuleDuplicate: the name appears more than once in the inventory; a
	// delete by name could hit either entry, so none goes.
	RuleDuplicate Rule = "duplicate"
	// RuleNotLocal: the entry is not a local VM (e.g. Source "oci": tart's OCI
	// cache, which tart manages itself). Only Source "local" is ever pruned.
	RuleNotLocal Rule = "not_local"
	// RuleNotOurs: the name does not parse exactly with the spec's name
	// template, or is not a valid VM name. Not ours: never touched.
	RuleNotOurs Rule = "not_ours"
	// RuleExpectedImage: the VM is the expected image of a release in the spec.
	RuleExpectedImage Rule = "expected_image"
	// RuleStagedImage: the VM is the expected image of a release in the
	// staged spec (Input.Next), the one a rollout is bringing in.
	RuleStagedImage Rule = "staged_image"
	// RuleCurrent: the VM is ours but no candidate reason applies.
	RuleCurrent Rule = "current"
	// RuleBusy: the VM is not known to be stopped: running, suspended, or a
	// state tart did not report ("") or that vmfleet does not know. Never
	// pruned, not even in a disk emergency.
	RuleBusy Rule = "busy"
	// RuleRemovedGrace: the VM left every active spec less than the removal
	// grace ago (cleanup.removed_grace, default 24h; Input.Retain), so the
	// change that removed it can still be undone without a rebuild. Lifted
	// only by a disk emergency; an operator's prune --now does not lift it.
	RuleRemovedGrace Rule = "removed_grace"
	// RuleReplacementNotReady: the VM's release is in the spec, but the host
	// does not have that release's expected image ready (see Plan). Lifted
	// only by a disk emergency.
	RuleReplacementNotReady Rule = "replacement_not_ready"
	// RuleOutsideWindow: no cleanup window is open. Lifted by a disk emergency
	// or an operator's prune --now.
	RuleOutsideWindow Rule = "outside_window"
)

// Decision is the verdict on one inventory entry.
type Decision struct {
	VM string `json:"vm"`
	// Release is the VM's release when the name is ours, else "".
	Release string `json:"release,omitempty"`
	// Reason is why the VM is a candidate, "" when it is not one. A kept VM
	// may be a candidate (e.g. bootstrap_outdated kept by outside_window).
	Reason Reason `json:"reason,omitempty"`
	// Rule is the protecting rule of a kept VM, "" for a pruned one.
	Rule Rule `json:"rule,omitempty"`
}

// String is the reason for a pruned VM and the rule for a kept one, as
// events.PruneOutcome.Reason carries it.
func (d Decision) String() string {
	if d.Rule != "" {
		return string(d.Rule)
	}
	return string(d.Reason)
}

// busy reports whether a VM in state may be in use. Only "stopped" is idle:
// the tart adapter maps old tart's Running flag to running/stopped, so ""
// should not occur, and when it does nothing proves the VM is idle.
func busy(state string) bool { return state != events.VMStopped }

// decide applies the rules, in order, to one inventory entry.
func (p *planner) decide(e entry) Decision {
	vm, ref := e.vm, e.ref
	d := Decision{VM: vm.Name}
	if p.only != nil && !p.only[vm.Name] {
		d.Rule = RuleNotRequested
		return d
	}
	if p.dup[vm.Name] {
		d.Rule = RuleDuplicate
		return d
	}
	if !e.local {
		d.Rule = RuleNotLocal
		return d
	}
	if !e.ours {
		d.Rule = RuleNotOurs
		return d
	}
	d.Release = ref.Release
	if p.expected[vm.Name] {
		d.Rule = RuleExpectedImage
		return d
	}
	if p.staged[vm.Name] {
		d.Rule = RuleStagedImage
		return d
	}
	if d.Reason = p.candidate(ref); d.Reason == "" {
		d.Rule = RuleCurrent
		return d
	}
	switch {
	case busy(vm.State):
		d.Rule = RuleBusy
	case p.retained[vm.Name] && !p.emergency:
		d.Rule = RuleRemovedGrace
	case d.Reason != ReasonReleaseRemoved && !p.ready[ref.Release] && !p.emergency:
		d.Rule = RuleReplacementNotReady
	case !p.windowOpen && !p.emergency && !p.pruneNow:
		d.Rule = RuleOutsideWindow
	}
	return d
}

// candidate returns why the VM named by ref may go, or "".
func (p *planner) candidate(ref events.ImageRef) Reason {
	switch {
	case !p.spec.HasRelease(ref.Release):
		return ReasonReleaseRemoved
	case ref.Bootstrap != p.spec.BootstrapVersion:
		return ReasonBootstrapOutdated
	case events.CompareVersions(ref.Bun, p.spec.BunVersion) < 0 && !p.keptBun[ref.Release][ref.Bun]:
		return ReasonBunOutdated
	}
	return ""
}
