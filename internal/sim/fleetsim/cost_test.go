package fleetsim

import (
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	t.Parallel()
	base := func(hosts int, registry bool, maxBuilds, maxPulls int) Config {
		c := DefaultConfig()
		c.Hosts, c.Registry, c.MaxBuilds, c.MaxPulls, c.MaxBuildsPerHost = hosts, registry, maxBuilds, maxPulls, 1
		c.QueueTime, c.BuildTime, c.PullTime, c.CheckInterval = 0, 20*time.Minute, 5*time.Minute, time.Minute
		return c
	}
	tests := []struct {
		name string
		c    Config
		want time.Duration
	}{
		// Two builds side by side, then 2,000 pulls 200 at a time: 10 rounds.
		{"registry, 1,000 hosts, pulls capped at 200", base(1000, true, 10, 200), 20*time.Minute + 10*5*time.Minute + time.Minute},
		// A host pulls one image at a time: uncapped, two rounds.
		{"registry, pulls uncapped", base(100, true, 10, 200), 20*time.Minute + 2*5*time.Minute + time.Minute},
		// Two releases with one build slot: the builds one after the other.
		{"registry, one build at a time", base(10, true, 1, 20), 2*20*time.Minute + 2*5*time.Minute + time.Minute},
		// 100 hosts × 2 builds, 10 at a time: 20 rounds.
		{"host mode, builds capped at 10", base(100, false, 10, 10), 20*20*time.Minute + time.Minute},
		// One build at a time on a host: two rounds however many slots.
		{"host mode, builds uncapped", base(100, false, 200, 10), 2*20*time.Minute + time.Minute},
	}
	for _, tt := range tests {
		if got := tt.c.Floor(); got != tt.want {
			t.Errorf("%s: Got(Floor) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestRateLimitedBuildkite runs a small registry fleet against a fake
// Buildkite answering 2 REST requests a minute of fleet time: the run
// still converges with one build per image, some requests are refused with
// 429, and Result reports the requests and the cost.
func TestRateLimitedBuildkite(t *testing.T) {
	t.Parallel()
	c := smallFleet(true)
	c.BuildkiteRateLimit = 2
	sim, err := New(c, WithComponentLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(t.Context()); err != nil {
		t.Fatalf("Got(Run) = %v, want nil", err)
	}
	r := sim.Result()
	if !r.Converged || r.BuildsCreated != r.BuildsIdeal || len(r.Violations) != 0 {
		t.Errorf("Got(converged, builds, ideal, violations) = %v, %d, %d, %v, want converged, one build per image, none",
			r.Converged, r.BuildsCreated, r.BuildsIdeal, r.Violations)
	}
	if r.BuildkiteRateLimit != 2 || r.BuildkiteRateLimited == 0 || r.BuildkiteRequests <= r.BuildkiteRateLimited {
		t.Errorf("Got(limit, requests, 429s) = %d, %d, %d, want 2, some refused and some answered",
			r.BuildkiteRateLimit, r.BuildkiteRequests, r.BuildkiteRateLimited)
	}
	if r.FloorSeconds.D() != c.Floor() || r.CPUSeconds <= 0 || r.PeakRSS <= 0 || r.MaxPulls != c.MaxPulls {
		t.Errorf("Got(cost) = %+v, want the floor, CPU, RSS and caps", r.Cost)
	}
}
