package fleetsim

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func chaosFleet(hosts int, seed uint64) Config {
	c := DefaultConfig()
	c.Hosts, c.Missing, c.Busy, c.Registry = hosts, 0, 0, true
	c.BumpAfter, c.WindowAfter, c.QueueTime = time.Minute, 0, 0
	c.MaxBuilds, c.MaxPulls = hosts*2, hosts*2
	c.Chaos = Chaos{On: true, Seed: seed}
	return c
}

// The same seed gives the same schedule; another seed another; every kind
// is scheduled at least once, time-scheduled faults end within the window
// and strike existing hosts.
func TestChaosScheduleIsReproducible(t *testing.T) {
	a, b := Schedule(chaosFleet(1000, 1)), Schedule(chaosFleet(1000, 1))
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("Got(two schedules of seed 1) = %d and %d faults, different; want the same", len(a), len(b))
	}
	if c := Schedule(chaosFleet(1000, 2)); reflect.DeepEqual(a, c) {
		t.Errorf("Got(schedules of seeds 1 and 2) equal, want different")
	}
	seen := map[string]int{}
	for _, f := range a {
		seen[f.Kind]++
		if f.Nth == 0 && f.At.D()+f.For.D() > DefaultChaosWindow {
			t.Errorf("Got(fault %+v) ending after the window (%s)", f, DefaultChaosWindow)
		}
		if f.Host != "" && chaosFleet(1000, 1).Validate() == nil {
			var n int
			if _, err := fmtSscan(f.Host, &n); err != nil || n < 1 || n > 1000 {
				t.Errorf("Got(fault %+v) on host %q, want mac-0001..mac-1000", f, f.Host)
			}
		}
	}
	for _, k := range ChaosKinds() {
		if seen[k.Name] == 0 {
			t.Errorf("Got(no %s in the schedule), want at least one", k.Name)
		}
	}
	if seen[FaultHostOffline] < 5 {
		t.Errorf("Got(%d host_offline at 1,000 hosts), want about 10 (1 per 100 hosts per hour)", seen[FaultHostOffline])
	}
	// Rates: a kind off, a multiplier.
	c := chaosFleet(1000, 1)
	mult, rates, err := ParseChaosRates("2,vm_deleted=0")
	if err != nil {
		t.Fatal(err)
	}
	c.Chaos.Rate, c.Chaos.Rates = mult, rates
	n := map[string]int{}
	for _, f := range Schedule(c) {
		n[f.Kind]++
	}
	if n[FaultVMDeleted] != 0 || n[FaultHostOffline] < 2*seen[FaultHostOffline]-1 {
		t.Errorf("Got(vm_deleted, host_offline at rate 2,vm_deleted=0) = %d, %d, want 0, about %d", n[FaultVMDeleted], n[FaultHostOffline], 2*seen[FaultHostOffline])
	}
	for _, bad := range []string{"nope=1", "x", "-1", "0", "build_fail=-2"} {
		if _, _, err := ParseChaosRates(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Got(ParseChaosRates(%q)) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func fmtSscan(host string, n *int) (int, error) {
	var digits string
	for i := len(host) - 1; i >= 0 && host[i] >= '0' && host[i] <= '9'; i-- {
		digits = string(host[i]) + digits
	}
	if digits == "" {
		return 0, errors.New("no number")
	}
	v := 0
	for _, d := range digits {
		v = v*10 + int(d-'0')
	}
	*n = v
	return 1, nil
}

// A small fleet converges under every fault kind, with no violation, and
// extra builds only from the builds the chaos failed.
func TestChaosSmallFleetHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes about a minute")
	}
	c := chaosFleet(20, 1)
	c.Scale, c.Timeout, c.StopWhenConverged = 0.002, 3*time.Minute, true
	// Every kind at least once in 20 hosts (a per-host kind's count
	// rounds up to 1). Two hours: the prunes whose Nth delete restarts an
	// agent come after the builds and pulls, later on a loaded machine.
	c.Chaos.Window, c.Chaos.Rate = 2*time.Hour, 0.5
	st := newStory()
	sim, err := New(c, WithObserver(st.observe), WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := sim.Run(t.Context())
	res := sim.Result()
	if runErr != nil || !res.Converged || len(res.Violations) != 0 {
		t.Fatalf("Got(Run, converged, violations) = %v, %v, %+v, want nil, true, none", runErr, res.Converged, res.Violations)
	}
	cr := res.ChaosResult
	if cr == nil {
		t.Fatal("Got(no chaos result)")
	}
	for _, k := range ChaosKinds() {
		if cr.Faults[k.Name] == 0 {
			t.Errorf("Got(faults[%s]) = 0, want at least 1 (faults %v)", k.Name, cr.Faults)
		}
	}
	if cr.Builds != cr.IdealBuilds+cr.RetriedBuilds || cr.RetriedBuilds < 1 {
		t.Errorf("Got(builds, ideal, retried) = %d, %d, %d, want builds = ideal + retried, retried ≥ 1", cr.Builds, cr.IdealBuilds, cr.RetriedBuilds)
	}
	if cr.LastFaultEnd == 0 || res.ConvergedAt < cr.LastFaultEnd {
		t.Errorf("Got(last fault end, converged at) = %s, %s, want converged after the last fault", cr.LastFaultEnd, res.ConvergedAt)
	}
	// Webhook faults recover when the leader knows the build's state.
	for _, k := range []string{FaultWebhookLost, FaultWebhookDuplicated, FaultWebhookReordered} {
		if rec := cr.Recovery[k]; rec.N != cr.Faults[k] {
			t.Errorf("Got(recovery of %s) = %+v for %d faults, want one recovery per fault", k, rec, cr.Faults[k])
		}
	}
	if cr.ConvergeFloor <= res.BumpAt || cr.HealedAfterFloor > cr.HealedAfterLastFault {
		t.Errorf("Got(converge floor, healed after it, after the last fault) = %s, %s, %s, want a floor after the bump (%s) and healed after it no more than after the last fault",
			cr.ConvergeFloor, cr.HealedAfterFloor, cr.HealedAfterLastFault, res.BumpAt)
	}
	t.Logf("faults %v; builds %d (ideal %d, retried %d); healed %s after the last fault; recovery %+v",
		cr.Faults, cr.Builds, cr.IdealBuilds, cr.RetriedBuilds, cr.HealedAfterLastFault, cr.Recovery)
}

// In host mode (no registry: every host builds its own images) the chaos
// injects every kind that applies, skips and reports the one that does
// not (nothing is pulled), and the fleet heals with no violation: the
// builds beyond one per key are those the chaos failed or whose image it
// deleted from the host.
func TestChaosHostMode(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes about half a minute")
	}
	c := chaosFleet(12, 1)
	c.Registry = false
	c.Scale, c.Timeout, c.StopWhenConverged = 0.002, 3*time.Minute, true
	c.Chaos.Window, c.Chaos.Rate = 2*time.Hour, 0.5
	for _, f := range Schedule(c) {
		if f.Kind == FaultAgentRestartPull {
			t.Fatalf("Got(%+v in a host-mode schedule), want it skipped", f)
		}
	}
	sim, err := New(c, WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	runErr := sim.Run(t.Context())
	res := sim.Result()
	if runErr != nil || !res.Converged || len(res.Violations) != 0 {
		t.Fatalf("Got(Run, converged, violations) = %v, %v, %+v, want nil, true, none", runErr, res.Converged, res.Violations)
	}
	cr := res.ChaosResult
	if cr == nil || cr.Skipped[FaultAgentRestartPull] == "" || len(cr.Skipped) != 1 {
		t.Fatalf("Got(skipped faults) = %v, want %s alone", cr, FaultAgentRestartPull)
	}
	for _, k := range ChaosKinds() {
		if _, skipped := cr.Skipped[k.Name]; !skipped && cr.Faults[k.Name] == 0 {
			t.Errorf("Got(faults[%s]) = 0, want at least 1 (faults %v)", k.Name, cr.Faults)
		}
	}
	if _, ok := cr.Faults[FaultAgentRestartPull]; ok {
		t.Errorf("Got(faults) = %v, want no %s", cr.Faults, FaultAgentRestartPull)
	}
	if cr.Builds != cr.IdealBuilds+cr.RetriedBuilds+cr.RebuiltBuilds || cr.IdealBuilds != 12*len(c.Releases) {
		t.Errorf("Got(builds, ideal, retried, rebuilt) = %d, %d, %d, %d, want builds = ideal (%d) + retried + rebuilt",
			cr.Builds, cr.IdealBuilds, cr.RetriedBuilds, cr.RebuiltBuilds, 12*len(c.Releases))
	}
	t.Logf("faults %v; skipped %v; builds %d (ideal %d, retried %d, rebuilt %d); healed %s after the last fault; recovery %+v",
		cr.Faults, cr.Skipped, cr.Builds, cr.IdealBuilds, cr.RetriedBuilds, cr.RebuiltBuilds, cr.HealedAfterLastFault, cr.Recovery)
}

// docs/reliability.md lists every fault kind.
func TestChaosKindsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ChaosKinds() {
		if !strings.Contains(string(b), "| `"+k.Name+"` |") {
			t.Errorf("docs/reliability.md: no row for fault kind %s", k.Name)
		}
	}
}
