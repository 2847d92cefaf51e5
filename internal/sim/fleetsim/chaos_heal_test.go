package fleetsim

import (
	"testing"
	"time"
)

// The clean run's floor of convergence at 1,000 hosts (bench converge's
// caps: builds and pulls unbounded, prunes at the orchestrator's default
// of 10) is the readiness floor (a build, two pulls, a check: 31 min) and
// the old images' prune (100 rounds of two 30 s deletes: 100 min).
// Healing counts from the later of it and the last fault's end.
func TestChaosHealedAfterFloor(t *testing.T) {
	c := chaosFleet(1000, 1)
	c.QueueTime, c.BuildTime, c.PullTime, c.DeleteTime, c.CheckInterval = 0, 20*time.Minute, 5*time.Minute, 30*time.Second, time.Minute
	if got, want := c.Floor(), 31*time.Minute; got != want {
		t.Errorf("Got(Floor) = %s, want %s", got, want)
	}
	if got, want := c.PruneFloor(), 100*time.Minute; got != want {
		t.Errorf("Got(PruneFloor) = %s, want %s", got, want)
	}
	m := func(d time.Duration) Seconds { return Seconds(d * time.Minute) }
	for _, tc := range []struct {
		name                                  string
		lastEnd, readyAfterBump, convergedAt  Seconds
		wantFloor, wantHealed, wantAfterFloor Seconds
		wantReadyAfterLast                    Seconds
	}{
		// The faults end an hour after the bump, long before the prune
		// could: most of the 1 h 36 min is the rollout's prune.
		{name: "faults end before the floor", lastEnd: m(62), readyAfterBump: m(52), convergedAt: m(158),
			wantFloor: m(133), wantHealed: m(96), wantAfterFloor: m(25), wantReadyAfterLast: 0},
		{name: "faults end after the floor", lastEnd: m(140), readyAfterBump: m(145), convergedAt: m(150),
			wantFloor: m(133), wantHealed: m(10), wantAfterFloor: m(10), wantReadyAfterLast: m(7)},
	} {
		r := &ChaosResult{LastFaultEnd: tc.lastEnd}
		r.healed(Result{Converged: true, BumpAt: m(2), ReadyAfterBump: tc.readyAfterBump, ConvergedAt: tc.convergedAt}, c)
		if r.ConvergeFloor != tc.wantFloor || r.HealedAfterLastFault != tc.wantHealed || r.HealedAfterFloor != tc.wantAfterFloor || r.ReadyAfterLastFault != tc.wantReadyAfterLast {
			t.Errorf("Got(%s: floor, healed after the last fault, after the floor, ready after the last fault) = %s, %s, %s, %s, want %s, %s, %s, %s", tc.name,
				r.ConvergeFloor, r.HealedAfterLastFault, r.HealedAfterFloor, r.ReadyAfterLastFault, tc.wantFloor, tc.wantHealed, tc.wantAfterFloor, tc.wantReadyAfterLast)
		}
	}
}
