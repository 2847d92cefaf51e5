package fleetsim

import (
	"testing"
	"time"
)

// rolloutFleet is what `vmfleet bench converge` runs, small: every host
// ready on the initial spec, a bootstrap bump a minute later, the window
// open all along, registry mode.
func rolloutFleet(rollout string) Config {
	c := DefaultConfig()
	c.Hosts, c.Missing, c.Busy, c.Registry, c.Rollout = 4, 0, 0, true, rollout
	c.BumpAfter, c.WindowAfter, c.QueueTime = time.Minute, 0, 0
	c.Scale, c.Timeout, c.StopWhenConverged = 0.0005, 50*time.Second, true
	return c
}

// A staged rollout keeps every host ready for the spec in force from the
// stage to the end; an immediate one leaves the releases with no ready
// host until the first host holds the new images. Both build each image
// once and break no safety rule.
func TestRolloutReadiness(t *testing.T) {
	t.Parallel()
	for _, rollout := range []string{RolloutStaged, RolloutImmediate} {
		t.Run(rollout, func(t *testing.T) {
			t.Parallel()
			st := newStory()
			sim, err := New(rolloutFleet(rollout), WithObserver(st.observe), WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Run(t.Context()); err != nil {
				t.Fatalf("Got(Run) = %v, want nil", err)
			}
			r := sim.Result()
			t.Logf("%s: min ready %d, outage %s, not-ready host time %s, promoted after %s, ready after %s, converged after %s",
				rollout, r.MinReadyHosts, r.OutageSeconds, r.NotReadyHostSeconds, r.PromotedAfterBump, r.ReadyAfterBump, r.ConvergedAfterBump)
			if !r.Converged || len(r.Violations) != 0 || r.BuildsCreated != 2 || r.BuildsIdeal != 2 || r.Pulls != 8 || r.Deleted != 8 {
				t.Errorf("Got(converged, violations, builds, ideal, pulls, deleted) = %v, %+v, %d, %d, %d, %d, want true, none, 2, 2, 8, 8",
					r.Converged, r.Violations, r.BuildsCreated, r.BuildsIdeal, r.Pulls, r.Deleted)
			}
			if r.Rollout != rollout || r.ConvergedAfterBump < r.ReadyAfterBump || r.ReadyAfterBump <= 0 {
				t.Errorf("Got(rollout, ready after bump, converged after bump) = %s, %s, %s, want %s and 0 < ready ≤ converged",
					r.Rollout, r.ReadyAfterBump, r.ConvergedAfterBump, rollout)
			}
			switch rollout {
			case RolloutStaged:
				if r.MinReadyHosts != 4 || r.MinReadyFraction != 1 || r.OutageSeconds != 0 || r.NotReadyHostSeconds != 0 {
					t.Errorf("Got(min ready, fraction, outage, not-ready host time) = %d, %g, %s, %s, want 4, 1, 0s, 0s",
						r.MinReadyHosts, r.MinReadyFraction, r.OutageSeconds, r.NotReadyHostSeconds)
				}
				if r.PromotedAfterBump <= 0 || r.PromotedAfterBump > r.ReadyAfterBump {
					t.Errorf("Got(promoted after bump) = %s, want after the stage and by the time every host is ready (%s)", r.PromotedAfterBump, r.ReadyAfterBump)
				}
				if st.index("staged rollout: bootstrap 3.6 → 3.7") < 0 || st.index("holds every staged image too") < 0 || st.index("promoted by the orchestrator") < 0 {
					t.Errorf("Got(story) without the stage, a host holding the staged images, or the promotion")
				}
			case RolloutImmediate:
				// From the bump until a host holds a new image of every
				// release, jobs have nowhere to run: at least a build and
				// a pull (25 min of fleet time).
				if r.MinReadyHosts != 0 || r.OutageSeconds.D() < 25*time.Minute || r.OutageSeconds > r.ReadyAfterBump || r.NotReadyHostSeconds.D() < 4*r.OutageSeconds.D() {
					t.Errorf("Got(min ready, outage, ready after bump, not-ready host time) = %d, %s, %s, %s, want 0, ≥ 25m and ≤ ready after bump, ≥ 4 × outage",
						r.MinReadyHosts, r.OutageSeconds, r.ReadyAfterBump, r.NotReadyHostSeconds)
				}
				if r.PromotedAfterBump != 0 {
					t.Errorf("Got(promoted after bump) = %s, want 0", r.PromotedAfterBump)
				}
			}
		})
	}
}
