package fleetsim

import (
	"net/http"
	"time"
)

// Cost is what a run cost the machine and Buildkite, and the fleet time no
// orchestrator could beat: the figures of the scale curve
// (docs/performance.md).
type Cost struct {
	// FloorSeconds is the physical floor of ReadyAfterBump (fleet time):
	// the builds at the build cap, then every pull at the pull cap (a host
	// pulls one image at a time), then one check interval. See Config.Floor.
	FloorSeconds Seconds `json:"floor_seconds"`
	// CPUSeconds is the process's user and system CPU time over the run;
	// PeakRSS its high-water resident set size in bytes. Everything runs in
	// the one process: nats-server, orchestrator, agents, fake Buildkite.
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSS    int64   `json:"peak_rss"`
	// BuildkiteRequests are the REST requests the fake Buildkite answered
	// (the agent API and webhooks excluded), BuildkiteRateLimited those of
	// them it refused with 429, under BuildkiteRateLimit requests per
	// minute of fleet time (0: not enforced).
	BuildkiteRequests    int `json:"buildkite_requests"`
	BuildkiteRateLimited int `json:"buildkite_rate_limited"`
	BuildkiteRateLimit   int `json:"buildkite_rate_limit"`
	// MaxBuilds and MaxPulls are the caps the run had.
	MaxBuilds int `json:"max_builds"`
	MaxPulls  int `json:"max_pulls"`
}

// Floor is the least fleet time after the bump before every host can be
// ready, whatever the orchestrator does: the builds, at most MaxBuilds at a
// time (host mode: at most MaxBuildsPerHost on one host), each taking
// queue + build time; then the pulls (registry mode), at most MaxPulls at a
// time and one at a time on a host; then one check interval for the agent
// to report. Pulls of the first image could start before the last build
// ends, but with every release's build running side by side (the caps as
// bench converge sets them) they do not.
func (c Config) Floor() time.Duration {
	n, r := c.Hosts, len(c.Releases)
	build := c.QueueTime + c.BuildTime
	rounds := func(jobs, slots, perHost int) int {
		return max(ceilDiv(jobs, max(1, slots)), ceilDiv(r, max(1, perHost)))
	}
	if !c.Registry {
		return time.Duration(rounds(n*r, c.MaxBuilds, c.MaxBuildsPerHost))*build + c.CheckInterval
	}
	builds := time.Duration(ceilDiv(r, max(1, c.MaxBuilds))) * build
	return builds + time.Duration(rounds(n*r, c.MaxPulls, 1))*c.PullTime + c.CheckInterval
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// cost measures the run's Cost once it is over; cpu0 is the CPU time at
// its start.
func (s *Sim) cost(e *env, cpu0 float64) Cost {
	return Cost{
		FloorSeconds:         Seconds(s.cfg.Floor()),
		CPUSeconds:           cpuSeconds() - cpu0,
		PeakRSS:              peakRSS(),
		BuildkiteRequests:    e.bk.RequestCount("", "", 0),
		BuildkiteRateLimited: e.bk.RequestCount("", "", http.StatusTooManyRequests),
		BuildkiteRateLimit:   s.cfg.BuildkiteRateLimit,
		MaxBuilds:            s.cfg.MaxBuilds,
		MaxPulls:             s.cfg.MaxPulls,
	}
}
