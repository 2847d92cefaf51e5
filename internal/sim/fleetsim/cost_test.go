package fleetsim

import (
	"net/http"
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

// TestRateLimitedBuildkite: with BuildkiteRateLimit the fake Buildkite
// answers that many REST requests per minute of fleet time (here a minute
// of wall time, at scale 1), then 429 with the RateLimit headers, and the
// run's cost counts both.
func TestRateLimitedBuildkite(t *testing.T) {
	t.Parallel()
	c := smallFleet(true)
	c.Scale, c.BuildkiteRateLimit = 1, 3
	sim, err := New(c, WithComponentLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := sim.setup(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	// Other requests (the orchestrator's own) may share the minute: ten
	// of ours in it get at most three answers between them.
	answered, refused := 0, 0
	for range 10 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.bk.URL()+"/v2/organizations/"+bkOrg+"/pipelines/"+bkPipeline+"/builds", nil)
		req.Header.Set("Authorization", "Bearer "+e.w.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		} else {
			answered++
		}
		if resp.Header.Get("RateLimit-Limit") != "3" || resp.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("Got(RateLimit-Limit, RateLimit-Reset) = %q, %q, want 3 and the seconds left", resp.Header.Get("RateLimit-Limit"), resp.Header.Get("RateLimit-Reset"))
		}
	}
	if answered > 3 || refused < 7 {
		t.Errorf("Got(answered, refused) = %d, %d, want at most 3 answered in the minute", answered, refused)
	}
	if cost := sim.cost(e, 0); cost.BuildkiteRequests < 10 || cost.BuildkiteRateLimited < refused || cost.BuildkiteRateLimit != 3 {
		t.Errorf("Got(cost) = %+v, want our 10 requests and %d refused counted, limit 3", cost, refused)
	}
}

// TestRunReportsItsCost: a run's Result carries its floor, CPU, RSS,
// Buildkite requests and caps.
func TestRunReportsItsCost(t *testing.T) {
	t.Parallel()
	c := smallFleet(true)
	sim, err := New(c, WithComponentLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(t.Context()); err != nil {
		t.Fatalf("Got(Run) = %v, want nil", err)
	}
	r := sim.Result()
	if r.FloorSeconds.D() != c.Floor() || r.CPUSeconds <= 0 || r.PeakRSS <= 0 || r.BuildkiteRequests < r.BuildsCreated ||
		r.BuildkiteRateLimit != 0 || r.MaxBuilds != c.MaxBuilds || r.MaxPulls != c.MaxPulls {
		t.Errorf("Got(cost) = %+v, want the floor %s, CPU, RSS, a request per build at least, no limit, the caps", r.Cost, c.Floor())
	}
}
