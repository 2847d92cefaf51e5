package cleanup

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"pgregory.net/rapid"
)

// TestMain runs the property tests over thousands of random hosts unless
// -rapid.checks (or RAPID_CHECKS) says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	set := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		if err := flag.Set("rapid.checks", "3000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

var (
	templates  = []string{events.DefaultNameTemplate, "macos-{release}-bootstrap-{bootstrap}-bun-{bun}"}
	releases   = []string{"12", "13", "14", "15"}
	buns       = []string{"1.1.40", "1.2.9", "1.2.15", "1.2.015", "1.2.16", "1.2.17", "1.3"}
	bootstraps = []string{"3.5", "3.6", "3.60", "3x6", "4"}
	vmStates   = []string{events.VMStopped, events.VMStopped, events.VMRunning, events.VMSuspended, "", "weird"}
	sources    = []string{"local", "local", "local", "oci", ""}
	reasons    = []events.Reason{events.ReasonReady, events.ReasonReady, events.ReasonImageMissing, events.ReasonBootstrapMismatch, events.ReasonTartError, events.ReasonForcedReady, events.ReasonForcedNotReady}
)

func drawSpec(t *rapid.T) events.ImageSpec {
	rs := rapid.SliceOfNDistinct(rapid.SampledFrom(releases[1:]), 1, 3, rapid.ID[string]).Draw(t, "releases")
	return events.ImageSpec{
		NameTemplate:     rapid.SampledFrom(templates).Draw(t, "template"),
		Releases:         rs,
		BunVersion:       rapid.SampledFrom([]string{"1.2.16", "1.2.15", "1.3"}).Draw(t, "bun"),
		BootstrapVersion: rapid.SampledFrom([]string{"3.6", "3.5", "4"}).Draw(t, "bootstrap"),
	}
}

// drawName draws a name of ours, an expected image, a lookalike or garbage.
func drawName(t *rapid.T, spec events.ImageSpec) string {
	ours := events.ImageSpec{
		NameTemplate:     spec.NameTemplate,
		BunVersion:       rapid.SampledFrom(buns).Draw(t, "vm bun"),
		BootstrapVersion: rapid.SampledFrom(bootstraps).Draw(t, "vm bootstrap"),
	}.ImageName(rapid.SampledFrom(releases).Draw(t, "vm release"))
	switch rapid.IntRange(0, 9).Draw(t, "name kind") {
	case 0, 1:
		return spec.ImageName(rapid.SampledFrom(spec.Releases).Draw(t, "expected release"))
	case 2:
		return ours + rapid.SampledFrom([]string{"-copy", "-", ".tmp", "x"}).Draw(t, "suffix")
	case 3:
		return rapid.SampledFrom([]string{"x", "tmp-", "-"}).Draw(t, "prefix") + ours
	case 4:
		i := rapid.IntRange(0, len(ours)-1).Draw(t, "cut")
		return ours[:i] + ours[i+1:]
	case 5:
		return strings.Replace(ours, "-", rapid.SampledFrom([]string{"_", "--", ".", ""}).Draw(t, "dash"), rapid.IntRange(1, 3).Draw(t, "dashes"))
	case 6:
		return rapid.StringMatching(`[a-z0-9.:/_\-]{1,24}`).Draw(t, "garbage")
	default:
		return ours
	}
}

func drawInput(t *rapid.T) Input {
	spec := drawSpec(t)
	in := Input{Spec: spec}
	in.Policy.KeepBunVersions = rapid.IntRange(0, 3).Draw(t, "keep")
	in.Policy.DiskEmergencyFreeBytes = rapid.SampledFrom([]int64{0, 10 * gb}).Draw(t, "threshold")
	for range rapid.IntRange(0, 12).Draw(t, "vms") {
		in.VMs = append(in.VMs, events.VM{
			Name:   drawName(t, spec),
			Source: rapid.SampledFrom(sources).Draw(t, "source"),
			State:  rapid.SampledFrom(vmStates).Draw(t, "state"),
		})
	}
	for _, r := range releases {
		if !rapid.Bool().Draw(t, "reports "+r) {
			continue
		}
		exp := spec.ImageName(r)
		if rapid.IntRange(0, 4).Draw(t, "stale") == 0 {
			exp = drawName(t, spec)
		}
		in.Releases = append(in.Releases, events.ReleaseStatus{Release: r, ExpectedImage: exp, Ready: rapid.Bool().Draw(t, "ready"), Reason: rapid.SampledFrom(reasons).Draw(t, "reason")})
	}
	if rapid.Bool().Draw(t, "disk known") {
		in.Disk = &events.Disk{FreeBytes: rapid.Int64Range(0, 20*gb).Draw(t, "free"), TotalBytes: rapid.SampledFrom([]int64{0, 500 * gb}).Draw(t, "total")}
	}
	base := utc("2025-06-10T12:00:00Z")
	in.Window.Open = rapid.Bool().Draw(t, "window open")
	if rapid.Bool().Draw(t, "closes set") {
		in.Window.Closes = base.Add(time.Duration(rapid.IntRange(-2, 2).Draw(t, "closes")) * time.Hour)
	}
	if rapid.Bool().Draw(t, "now set") {
		in.Now = base
	}
	in.PruneNow = rapid.IntRange(0, 4).Draw(t, "prune now") == 0
	if rapid.Bool().Draw(t, "only") {
		for _, vm := range in.VMs {
			if rapid.Bool().Draw(t, "only "+vm.Name) {
				in.Only = append(in.Only, vm.Name)
			}
		}
		in.Only = append(in.Only, rapid.SliceOfN(rapid.SampledFrom([]string{"gone-a", "gone-b"}), 0, 2).Draw(t, "only extra")...)
		if in.Only == nil {
			in.Only = []string{}
		}
	}
	return in
}

// oracle restates the rules from the inputs alone, without the planner.
type oracle struct {
	in        Input
	emergency bool
	window    bool
}

func newOracle(in Input) oracle {
	o := oracle{in: in}
	o.emergency = in.Disk != nil && in.Disk.TotalBytes > 0 && in.Policy.DiskEmergencyFreeBytes > 0 && in.Disk.FreeBytes < in.Policy.DiskEmergencyFreeBytes
	o.window = in.Window.Open && (in.Now.IsZero() || in.Window.Closes.IsZero() || in.Now.Before(in.Window.Closes))
	return o
}

func (o oracle) entries(name string) []events.VM {
	var out []events.VM
	for _, vm := range o.in.VMs {
		if vm.Name == name {
			out = append(out, vm)
		}
	}
	return out
}

func (o oracle) expected(name string) bool {
	for _, r := range o.in.Spec.Releases {
		if o.in.Spec.ImageName(r) == name {
			return true
		}
	}
	return false
}

// replacementReady: reported ready (reason ready) for today's expected image, which is a local VM.
func (o oracle) replacementReady(release string) bool {
	exp := o.in.Spec.ImageName(release)
	present := slices.ContainsFunc(o.in.VMs, func(vm events.VM) bool { return vm.Name == exp && vm.Source == "local" })
	return present && slices.ContainsFunc(o.in.Releases, func(s events.ReleaseStatus) bool {
		return s.Release == release && s.Ready && s.Reason == events.ReasonReady && s.ExpectedImage == exp
	})
}

// mayPrune is every "never" of docs/orchestrator.md#cleanup and this package's extra guards.
func (o oracle) mayPrune(t *rapid.T, d Decision) {
	es := o.entries(d.VM)
	if len(es) != 1 {
		t.Fatalf("pruned %q with %d inventory entries", d.VM, len(es))
	}
	vm := es[0]
	ref, ours := o.in.Spec.ParseName(vm.Name)
	switch {
	case vm.State != events.VMStopped:
		t.Fatalf("pruned %q in state %q", vm.Name, vm.State)
	case vm.Source != "local":
		t.Fatalf("pruned %q from source %q", vm.Name, vm.Source)
	case !ours || events.ValidateVMName(vm.Name) != nil:
		t.Fatalf("pruned %q, which is not ours", vm.Name)
	case o.expected(vm.Name):
		t.Fatalf("pruned the expected image %q", vm.Name)
	case o.in.Spec.HasRelease(ref.Release) && !o.replacementReady(ref.Release) && !o.emergency:
		t.Fatalf("pruned %q while release %s has no ready replacement", vm.Name, ref.Release)
	case !o.window && !o.emergency && !o.in.PruneNow:
		t.Fatalf("pruned %q outside every window", vm.Name)
	case o.in.Only != nil && !slices.Contains(o.in.Only, vm.Name):
		t.Fatalf("pruned %q, not in Only %v", vm.Name, o.in.Only)
	}
	want := ReasonBunOutdated
	if !o.in.Spec.HasRelease(ref.Release) {
		want = ReasonReleaseRemoved
	} else if ref.Bootstrap != o.in.Spec.BootstrapVersion {
		want = ReasonBootstrapOutdated
	}
	if d.Reason != want || (want == ReasonBunOutdated && events.CompareVersions(ref.Bun, o.in.Spec.BunVersion) >= 0) {
		t.Fatalf("pruned %q (%+v) for %q, want %q", vm.Name, ref, d.Reason, want)
	}
}

// mustPrune: a unique, stopped, local VM of ours whose bootstrap differs or
// whose release left the spec, with every guard lifted, goes.
func (o oracle) mustPrune(vm events.VM) bool {
	ref, ours := o.in.Spec.ParseName(vm.Name)
	if !ours || vm.Source != "local" || vm.State != events.VMStopped || len(o.entries(vm.Name)) != 1 || o.expected(vm.Name) {
		return false
	}
	if o.in.Only != nil && !slices.Contains(o.in.Only, vm.Name) {
		return false
	}
	removed := !o.in.Spec.HasRelease(ref.Release)
	if !removed && ref.Bootstrap == o.in.Spec.BootstrapVersion {
		return false
	}
	return (removed || o.replacementReady(ref.Release) || o.emergency) && (o.window || o.emergency || o.in.PruneNow)
}

func TestPlanProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := drawInput(t)
		res := Plan(in)
		o := newOracle(in)

		var got, want []string
		for _, vm := range in.VMs {
			want = append(want, vm.Name)
		}
		for _, d := range res.Prune {
			got = append(got, d.VM)
			o.mayPrune(t, d)
		}
		for _, d := range res.Keep {
			got = append(got, d.VM)
			if d.Rule == "" {
				t.Fatalf("kept %q without a rule", d.VM)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Got(Prune ∪ Keep) = %v, want the inventory %v, each once", got, want)
		}
		byName := func(a, b Decision) int { return strings.Compare(a.VM, b.VM) }
		if !slices.IsSortedFunc(res.Prune, byName) || !slices.IsSortedFunc(res.Keep, byName) {
			t.Fatalf("Got(Plan) = %+v, want both lists sorted by name", res)
		}
		for _, vm := range in.VMs {
			if o.mustPrune(vm) && !slices.ContainsFunc(res.Prune, func(d Decision) bool { return d.VM == vm.Name }) {
				t.Fatalf("kept %+v, which every rule lets go: %+v", vm, res.Keep)
			}
		}
		for _, g := range res.Gone {
			if !slices.Contains(in.Only, g) || len(o.entries(g)) > 0 {
				t.Fatalf("Got(Gone) = %v: %q is not a requested, missing name", res.Gone, g)
			}
		}
		if in.Only == nil {
			// The agent's re-check of the orchestrator's request agrees.
			in.Only = res.PruneNames()
			again := Plan(in)
			if !slices.Equal(again.PruneNames(), res.PruneNames()) {
				t.Fatalf("Got(re-check with Only %v) = %v, want the same names", in.Only, again.PruneNames())
			}
		}
	})
}
