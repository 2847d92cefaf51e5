package cleanup

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

const gb = int64(1) << 30

// testSpec is the spec of the table tests: releases 13 and 14, bun 1.2.16,
// bootstrap 3.6, keep 2 bun versions, emergency under 10 GiB free.
func testSpec() (events.ImageSpec, events.CleanupPolicy) {
	spec := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	return spec, events.CleanupPolicy{KeepBunVersions: 2, DiskEmergencyFreeBytes: 10 * gb}
}

func local(name, state string) events.VM { return events.VM{Name: name, Source: "local", State: state} }

func status(release, image string, ready bool, reason events.Reason) events.ReleaseStatus {
	return events.ReleaseStatus{Release: release, ExpectedImage: image, Ready: ready, Reason: reason}
}

// A kind is the VM under test in one row of the policy table.
type kind struct {
	name    string
	vm      string
	source  string
	release string // "" when the name is not ours
	reason  Reason // candidate reason, "" when none
}

var (
	kOCI        = kind{"oci cache entry", "bun-build-macos-14-1.2.16-bootstrap-3.5", "oci", "", ""}
	kCopy       = kind{"suffix lookalike", "bun-build-macos-14-1.2.16-bootstrap-3.6-copy", "local", "", ""}
	kPrefix     = kind{"prefix lookalike", "xbun-build-macos-14-1.2.16-bootstrap-3.5", "local", "", ""}
	kExpected   = kind{"expected image", "bun-build-macos-14-1.2.16-bootstrap-3.6", "local", "14", ""}
	kNewerBun   = kind{"newer bun", "bun-build-macos-14-1.2.17-bootstrap-3.6", "local", "14", ""}
	kKeptBun    = kind{"kept older bun", "bun-build-macos-14-1.2.15-bootstrap-3.6", "local", "14", ""}
	kOldBun     = kind{"old bun", "bun-build-macos-14-1.2.9-bootstrap-3.6", "local", "14", ReasonBunOutdated}
	kBootstrap  = kind{"old bootstrap", "bun-build-macos-14-1.2.16-bootstrap-3.5", "local", "14", ReasonBootstrapOutdated}
	kBootstrap2 = kind{"bootstrap 3.60 is not 3.6", "bun-build-macos-14-1.2.16-bootstrap-3.60", "local", "14", ReasonBootstrapOutdated}
	kRemoved    = kind{"release removed", "bun-build-macos-12-1.2.16-bootstrap-3.6", "local", "12", ReasonReleaseRemoved}
	allKinds    = []kind{kOCI, kCopy, kPrefix, kExpected, kNewerBun, kKeptBun, kOldBun, kBootstrap, kBootstrap2, kRemoved}
	candidates  = []kind{kOldBun, kBootstrap, kBootstrap2}
)

// A situation is the host-level state of one row: windows, readiness of
// release 14, disk, operator override, Only.
type situation string

const (
	sOpenReady      situation = "window open, replacement ready"
	sOpenMissing    situation = "window open, image_missing"
	sOpenForced     situation = "window open, forced_ready"
	sOpenStale      situation = "window open, ready for an older spec"
	sOpenAbsent     situation = "window open, ready but image not in inventory"
	sClosedReady    situation = "window closed, replacement ready"
	sClosedMissing  situation = "window closed, image_missing"
	sClosedNow      situation = "window closed, operator prune --now"
	sEmergency      situation = "window closed, image_missing, disk emergency"
	sOnlySelf       situation = "window open, replacement ready, Only names it"
	sOnlyOther      situation = "window open, replacement ready, Only names another"
	sDiskUnknownLow situation = "window closed, image_missing, disk total unknown"
)

var allSituations = []situation{sOpenReady, sOpenMissing, sOpenForced, sOpenStale, sOpenAbsent, sClosedReady, sClosedMissing, sClosedNow, sEmergency, sOnlySelf, sOnlyOther, sDiskUnknownLow}

func except(s ...situation) []situation {
	var out []situation
	for _, a := range allSituations {
		if !contains(s, a) {
			out = append(out, a)
		}
	}
	return out
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// states are the table's columns.
var states = []string{events.VMRunning, events.VMSuspended, events.VMStopped, "", "restoring"}

// input builds the host of one cell: the VM under test plus, stopped, the
// newest older bun and (but in sOpenAbsent) the expected image of release 14,
// unless the VM under test is one of them.
func input(k kind, state string, s situation) Input {
	spec, pol := testSpec()
	expected := spec.ImageName("14")
	in := Input{Spec: spec, Policy: pol, Window: WindowState{Open: true}, Disk: &events.Disk{FreeBytes: 100 * gb, TotalBytes: 500 * gb}}
	in.VMs = []events.VM{{Name: k.vm, Source: k.source, State: state}}
	bases := []string{kKeptBun.vm}
	if s != sOpenAbsent {
		bases = append(bases, expected)
	}
	for _, base := range bases {
		if base != k.vm {
			in.VMs = append(in.VMs, local(base, events.VMStopped))
		}
	}
	in.Releases = []events.ReleaseStatus{status("13", spec.ImageName("13"), false, events.ReasonImageMissing), status("14", expected, true, events.ReasonReady)}
	switch s {
	case sOpenMissing, sClosedMissing, sEmergency, sDiskUnknownLow:
		in.Releases[1] = status("14", expected, false, events.ReasonImageMissing)
	case sOpenForced:
		in.Releases[1] = status("14", expected, true, events.ReasonForcedReady)
	case sOpenStale:
		in.Releases[1] = status("14", "bun-build-macos-14-1.2.16-bootstrap-3.5", true, events.ReasonReady)
	case sOnlySelf:
		in.Only = []string{k.vm}
	case sOnlyOther:
		in.Only = []string{"someone-else"}
	}
	switch s {
	case sClosedReady, sClosedMissing, sClosedNow, sEmergency, sDiskUnknownLow:
		in.Window = WindowState{}
	}
	switch s {
	case sClosedNow:
		in.PruneNow = true
	case sEmergency:
		in.Disk = &events.Disk{FreeBytes: 2 * gb, TotalBytes: 500 * gb}
	case sDiskUnknownLow:
		in.Disk = &events.Disk{FreeBytes: 0, TotalBytes: 0}
	}
	return in
}

const prune = "prune"

// TestPlanTable is the policy table: every (VM kind × host situation × VM
// state) cell, with the expected verdict ("prune" or the protecting rule).
func TestPlanTable(t *testing.T) {
	t.Parallel()
	const (
		busy = RuleBusy
		rnr  = RuleReplacementNotReady
		out  = RuleOutsideWindow
	)
	// Columns: running, suspended, stopped, "" (tart did not say), an unknown state.
	table := []struct {
		kinds []kind
		sits  []situation
		want  [5]Rule
	}{
		{allKinds, []situation{sOnlyOther}, [5]Rule{RuleNotRequested, RuleNotRequested, RuleNotRequested, RuleNotRequested, RuleNotRequested}},
		{[]kind{kOCI}, except(sOnlyOther), [5]Rule{RuleNotLocal, RuleNotLocal, RuleNotLocal, RuleNotLocal, RuleNotLocal}},
		{[]kind{kCopy, kPrefix}, except(sOnlyOther), [5]Rule{RuleNotOurs, RuleNotOurs, RuleNotOurs, RuleNotOurs, RuleNotOurs}},
		{[]kind{kExpected}, except(sOnlyOther), [5]Rule{RuleExpectedImage, RuleExpectedImage, RuleExpectedImage, RuleExpectedImage, RuleExpectedImage}},
		{[]kind{kNewerBun, kKeptBun}, except(sOnlyOther), [5]Rule{RuleCurrent, RuleCurrent, RuleCurrent, RuleCurrent, RuleCurrent}},

		{candidates, []situation{sOpenReady, sOnlySelf, sClosedNow, sEmergency}, [5]Rule{busy, busy, prune, busy, busy}},
		{candidates, []situation{sOpenMissing, sOpenForced, sOpenStale, sOpenAbsent, sClosedMissing, sDiskUnknownLow}, [5]Rule{busy, busy, rnr, busy, busy}},
		{candidates, []situation{sClosedReady}, [5]Rule{busy, busy, out, busy, busy}},

		{[]kind{kRemoved}, []situation{sOpenReady, sOnlySelf, sClosedNow, sEmergency, sOpenMissing, sOpenForced, sOpenStale, sOpenAbsent}, [5]Rule{busy, busy, prune, busy, busy}},
		{[]kind{kRemoved}, []situation{sClosedReady, sClosedMissing, sDiskUnknownLow}, [5]Rule{busy, busy, out, busy, busy}},
	}
	seen := map[string]bool{}
	for _, row := range table {
		for _, k := range row.kinds {
			for _, s := range row.sits {
				for i, state := range states {
					cell := fmt.Sprintf("%s/%s/state=%q", k.name, s, state)
					if seen[cell] {
						t.Fatalf("cell %s is in the table twice", cell)
					}
					seen[cell] = true
					t.Run(cell, func(t *testing.T) {
						checkCell(t, input(k, state, s), k, row.want[i])
					})
				}
			}
		}
	}
	if want := len(allKinds) * len(allSituations) * len(states); len(seen) != want {
		t.Errorf("Got(cells) = %d, want %d: the table must cover every kind × situation × state", len(seen), want)
	}
}

func checkCell(t *testing.T, in Input, k kind, want Rule) {
	t.Helper()
	res := Plan(in)
	var got Decision
	n := 0
	for _, d := range append(res.Prune, res.Keep...) {
		if d.VM == k.vm {
			got, n = d, n+1
		}
	}
	if n != 1 {
		t.Fatalf("Got(decisions for %s) = %d, want 1: %+v", k.vm, n, res)
	}
	wantD := Decision{VM: k.vm}
	if want != prune {
		wantD.Rule = want
	}
	switch want {
	case RuleNotRequested, RuleNotLocal, RuleNotOurs:
	case RuleExpectedImage, RuleCurrent:
		wantD.Release = k.release
	default:
		wantD.Release, wantD.Reason = k.release, k.reason
	}
	if diff := cmp.Diff(wantD, got); diff != "" {
		t.Errorf("Got(Plan(%+v)) = %+v, want %+v (-want +got):\n%s", in, got, wantD, diff)
	}
}
