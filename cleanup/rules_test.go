package cleanup

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// readyHost is release 14 ready, window open, plenty of disk, plus vms.
func readyHost(keep int, vms ...events.VM) Input {
	spec, pol := testSpec()
	pol.KeepBunVersions = keep
	exp := spec.ImageName("14")
	return Input{
		Spec: spec, Policy: pol, Window: WindowState{Open: true},
		VMs:      append([]events.VM{local(exp, events.VMStopped)}, vms...),
		Releases: []events.ReleaseStatus{status("14", exp, true, events.ReasonReady)},
		Disk:     &events.Disk{FreeBytes: 100 * gb, TotalBytes: 500 * gb},
	}
}

func bunVM(bun, bootstrap string) events.VM {
	return local("bun-build-macos-14-"+bun+"-bootstrap-"+bootstrap, events.VMStopped)
}

func pruned(res Result) map[string]Reason {
	m := map[string]Reason{}
	for _, d := range res.Prune {
		m[d.VM] = d.Reason
	}
	return m
}

func TestKeepBunVersions(t *testing.T) {
	t.Parallel()
	older := []events.VM{bunVM("1.2.15", "3.6"), bunVM("1.2.9", "3.6"), bunVM("1.1.40", "3.6"), bunVM("1.2.17", "3.6"), bunVM("1.2.14", "3.5")}
	name := func(bun, bs string) string { return bunVM(bun, bs).Name }
	tests := []struct {
		name string
		keep int
		vms  []events.VM
		want map[string]Reason
	}{
		{"0 means the default, 1: only the spec's", 0, older, map[string]Reason{
			name("1.2.15", "3.6"): ReasonBunOutdated, name("1.2.9", "3.6"): ReasonBunOutdated, name("1.1.40", "3.6"): ReasonBunOutdated, name("1.2.14", "3.5"): ReasonBootstrapOutdated}},
		{"1", 1, older, map[string]Reason{
			name("1.2.15", "3.6"): ReasonBunOutdated, name("1.2.9", "3.6"): ReasonBunOutdated, name("1.1.40", "3.6"): ReasonBunOutdated, name("1.2.14", "3.5"): ReasonBootstrapOutdated}},
		{"2 keeps the newest older (numeric order: 1.2.15 > 1.2.9)", 2, older, map[string]Reason{
			name("1.2.9", "3.6"): ReasonBunOutdated, name("1.1.40", "3.6"): ReasonBunOutdated, name("1.2.14", "3.5"): ReasonBootstrapOutdated}},
		{"3; another bootstrap takes no slot", 3, older, map[string]Reason{
			name("1.1.40", "3.6"): ReasonBunOutdated, name("1.2.14", "3.5"): ReasonBootstrapOutdated}},
		{"more than there are", 10, older, map[string]Reason{name("1.2.14", "3.5"): ReasonBootstrapOutdated}},
		{"equal versions share a slot", 2, []events.VM{bunVM("1.2.15", "3.6"), bunVM("1.2.015", "3.6"), bunVM("1.2.14", "3.6")}, map[string]Reason{
			name("1.2.14", "3.6"): ReasonBunOutdated}},
		{"an OCI entry takes no slot", 2, []events.VM{{Name: name("1.2.15", "3.6"), Source: "oci", State: events.VMStopped}, bunVM("1.2.14", "3.6")}, map[string]Reason{}},
		{"a busy VM takes its slot", 2, []events.VM{local(name("1.2.15", "3.6"), events.VMRunning), bunVM("1.2.14", "3.6")}, map[string]Reason{
			name("1.2.14", "3.6"): ReasonBunOutdated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := pruned(Plan(readyHost(tt.keep, tt.vms...)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(pruned) = %v, want %v (-want +got):\n%s", got, tt.want, diff)
			}
		})
	}
}

func TestDiskEmergency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		threshold int64
		disk      *events.Disk
		want      bool
	}{
		{"under the threshold", 10 * gb, &events.Disk{FreeBytes: 10*gb - 1, TotalBytes: 500 * gb}, true},
		{"at the threshold", 10 * gb, &events.Disk{FreeBytes: 10 * gb, TotalBytes: 500 * gb}, false},
		{"threshold 0 disables it", 0, &events.Disk{FreeBytes: 0, TotalBytes: 500 * gb}, false},
		{"unknown disk", 10 * gb, nil, false},
		{"disk with no total is unknown", 10 * gb, &events.Disk{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readyHost(1, bunVM("1.2.16", "3.5"))
			in.Policy.DiskEmergencyFreeBytes, in.Disk = tt.threshold, tt.disk
			in.Releases = nil // not ready: only an emergency prunes
			res := Plan(in)
			if res.DiskEmergency != tt.want || (len(res.Prune) == 1) != tt.want {
				t.Errorf("Got(Plan(disk %+v, threshold %d)) = emergency %v, prune %v, want emergency %v", tt.disk, tt.threshold, res.DiskEmergency, res.Prune, tt.want)
			}
		})
	}
}

func TestPlanWindowStateAtNow(t *testing.T) {
	t.Parallel()
	closes := utc("2025-06-10T06:00:00Z")
	tests := []struct {
		name string
		st   WindowState
		now  time.Time
		want bool
	}{
		{"open, before it closes", WindowState{Open: true, Closes: closes}, closes.Add(-time.Second), true},
		{"open state, but now is past Closes", WindowState{Open: true, Closes: closes}, closes, false},
		{"no Now: the state as given", WindowState{Open: true, Closes: closes}, time.Time{}, true},
		{"closed", WindowState{Opens: closes}, closes.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readyHost(1, bunVM("1.2.16", "3.5"))
			in.Window, in.Now = tt.st, tt.now
			res := Plan(in)
			if res.WindowOpen != tt.want || (len(res.Prune) == 1) != tt.want {
				t.Errorf("Got(Plan(window %+v at %v)) = open %v, prune %v, want open %v", tt.st, tt.now, res.WindowOpen, res.Prune, tt.want)
			}
		})
	}
}

func TestPlanOnlyAndOrder(t *testing.T) {
	t.Parallel()
	in := readyHost(1, bunVM("1.2.16", "3.4"), bunVM("1.2.16", "3.5"), bunVM("1.2.10", "3.6"), events.VM{Name: "zeta", Source: "local", State: events.VMStopped})
	in.VMs[0], in.VMs[3] = in.VMs[3], in.VMs[0] // unsorted inventory
	in.Only = []string{bunVM("1.2.16", "3.5").Name, bunVM("1.2.10", "3.6").Name, "gone-b", "gone-a", "gone-a", "zeta"}
	got := Plan(in)
	want := Result{
		Prune: []Decision{
			{VM: bunVM("1.2.10", "3.6").Name, Release: "14", Reason: ReasonBunOutdated},
			{VM: bunVM("1.2.16", "3.5").Name, Release: "14", Reason: ReasonBootstrapOutdated},
		},
		Keep: []Decision{
			{VM: bunVM("1.2.16", "3.4").Name, Rule: RuleNotRequested},
			{VM: bunVM("1.2.16", "3.6").Name, Rule: RuleNotRequested},
			{VM: "zeta", Rule: RuleNotOurs},
		},
		Gone:       []string{"gone-a", "gone-b"},
		WindowOpen: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(Plan(Only %v)) = %+v, want %+v (-want +got):\n%s", in.Only, got, want, diff)
	}
	if diff := cmp.Diff([]string{bunVM("1.2.10", "3.6").Name, bunVM("1.2.16", "3.5").Name}, got.PruneNames()); diff != "" {
		t.Errorf("Got(PruneNames()) = %v (-want +got):\n%s", got.PruneNames(), diff)
	}
	in.Only = []string{}
	if res := Plan(in); len(res.Prune) != 0 {
		t.Errorf("Got(Plan(Only []).Prune) = %v, want none: an empty Only prunes nothing", res.Prune)
	}
}

func TestPlanOtherTemplate(t *testing.T) {
	t.Parallel()
	spec := events.ImageSpec{NameTemplate: "macos-{release}-bootstrap-{bootstrap}-bun-{bun}", Releases: []string{"15"}, BunVersion: "1.3.0", BootstrapVersion: "4"}
	exp := spec.ImageName("15")
	in := Input{
		Spec: spec, Window: WindowState{Open: true},
		VMs: []events.VM{
			local(exp, events.VMStopped),
			local("macos-15-bootstrap-3-bun-1.3.0", events.VMStopped),
			local("bun-build-macos-15-1.3.0-bootstrap-3", events.VMStopped), // the default template's name: not ours here
		},
		Releases: []events.ReleaseStatus{status("15", exp, true, events.ReasonReady)},
	}
	got := pruned(Plan(in))
	want := map[string]Reason{"macos-15-bootstrap-3-bun-1.3.0": ReasonBootstrapOutdated}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(pruned) = %v, want %v (-want +got):\n%s", got, want, diff)
	}
}

func TestDecisionString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    Decision
		want string
	}{
		{Decision{Reason: ReasonBunOutdated}, "bun_outdated"},
		{Decision{Reason: ReasonBunOutdated, Rule: RuleBusy}, "busy"},
		{Decision{Rule: RuleNotOurs}, "not_ours"},
	} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Got(%+v.String()) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestPlanDuplicateNames(t *testing.T) {
	t.Parallel()
	old := bunVM("1.2.16", "3.5")
	in := readyHost(1, old, old, events.VM{Name: bunVM("1.2.16", "3.4").Name, Source: "oci"}, bunVM("1.2.16", "3.4"))
	got := Plan(in)
	if len(got.Prune) != 0 {
		t.Errorf("Got(Plan(duplicates).Prune) = %v, want none", got.Prune)
	}
	for _, d := range got.Keep {
		if d.VM != in.VMs[0].Name && d.Rule != RuleDuplicate {
			t.Errorf("Got(%s) = %+v, want rule %s", d.VM, d, RuleDuplicate)
		}
	}
}

func TestPlanStagedAndRemovedGrace(t *testing.T) {
	t.Parallel()
	now := utc("2026-12-02T04:00:00Z")
	spec, _ := testSpec()
	next := spec
	next.BootstrapVersion = "3.7"
	staged := next.ImageName("14")
	removed := "bun-build-macos-12-1.2.16-bootstrap-3.6"
	oldBoot := "bun-build-macos-14-1.2.16-bootstrap-3.5"
	retain := []events.RetainedImages{
		{Images: events.ImageSpec{Releases: []string{"12"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}, Until: now.Add(time.Hour)},
		{Images: events.ImageSpec{Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: "3.5"}, Until: now.Add(time.Hour)},
		// A rollback made 14/3.6 current again: expected wins.
		{Images: events.ImageSpec{Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}, Until: now.Add(time.Hour)},
	}
	tests := []struct {
		name string
		mod  func(*Input)
		vm   events.VM
		want Decision
	}{
		{"staged image kept", func(in *Input) { in.Next = &next }, local(staged, events.VMStopped),
			Decision{VM: staged, Release: "14", Rule: RuleStagedImage}},
		{"staged image kept in a disk emergency", func(in *Input) { in.Next = &next; in.Disk.FreeBytes = gb }, local(staged, events.VMStopped),
			Decision{VM: staged, Release: "14", Rule: RuleStagedImage}},
		{"without a next spec it is outdated", func(in *Input) {}, local(staged, events.VMStopped),
			Decision{VM: staged, Release: "14", Reason: ReasonBootstrapOutdated}},
		{"removed release kept within the grace", func(in *Input) {}, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved, Rule: RuleRemovedGrace}},
		{"prune --now does not lift the grace", func(in *Input) { in.PruneNow, in.Window = true, WindowState{} }, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved, Rule: RuleRemovedGrace}},
		{"no clock: still within the grace", func(in *Input) { in.Now = time.Time{} }, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved, Rule: RuleRemovedGrace}},
		{"outdated bootstrap kept within the grace", func(in *Input) {}, local(oldBoot, events.VMStopped),
			Decision{VM: oldBoot, Release: "14", Reason: ReasonBootstrapOutdated, Rule: RuleRemovedGrace}},
		{"busy before the grace", func(in *Input) {}, local(removed, events.VMRunning),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved, Rule: RuleBusy}},
		{"a disk emergency cuts the grace", func(in *Input) { in.Disk.FreeBytes = gb }, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved}},
		{"the grace ends at Until", func(in *Input) { in.Now = now.Add(time.Hour) }, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved}},
		{"after the grace the window still applies", func(in *Input) { in.Now, in.Window = now.Add(2*time.Hour), WindowState{} }, local(removed, events.VMStopped),
			Decision{VM: removed, Release: "12", Reason: ReasonReleaseRemoved, Rule: RuleOutsideWindow}},
		{"expected wins over retained", func(in *Input) { in.Disk.FreeBytes = gb }, local(spec.ImageName("14"), events.VMStopped),
			Decision{VM: spec.ImageName("14"), Release: "14", Rule: RuleExpectedImage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readyHost(1)
			if tt.vm.Name != in.VMs[0].Name { // readyHost has the expected image
				in.VMs = append(in.VMs, tt.vm)
			}
			in.Now, in.Retain = now, retain
			tt.mod(&in)
			res := Plan(in)
			var got *Decision
			for _, d := range append(res.Prune, res.Keep...) {
				if d.VM == tt.vm.Name {
					got = &d
				}
			}
			if got == nil {
				t.Fatalf("Got(Plan) = %+v, no decision for %s", res, tt.vm.Name)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("Got(decision) differs (-want +got):\n%s", diff)
			}
		})
	}
}
