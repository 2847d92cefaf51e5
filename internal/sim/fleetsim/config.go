package fleetsim

import (
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Bump kinds: what the spec change after the first convergence moves on.
const (
	BumpBootstrap = "bootstrap"
	BumpBun       = "bun"
	BumpNone      = "none"
)

// Rollouts: how the bump reaches the fleet.
const (
	// RolloutImmediate writes the bumped spec in force (key current), as
	// `vmfleet spec set` does: every host is not ready until it holds the
	// new images.
	RolloutImmediate = "immediate"
	// RolloutStaged stages the bumped spec (key next) through the
	// orchestrator's API, as `vmfleet spec stage --auto-promote 100%`
	// does: hosts get the new images beside the current ones and the
	// orchestrator promotes the staged spec once every non-stale host
	// holds them.
	RolloutStaged = "staged"
)

// Prune expectations: whether convergence waits for outdated images to go.
const (
	// PruneRequire: converged only once nothing the cleanup rules would
	// prune is left.
	PruneRequire = "require"
	// PruneAuto: as PruneRequire once the orchestrator has sent a prune
	// command; if it sends none within a grace period after the fleet is
	// ready with the window open, converge anyway and say pruning was not
	// checked (an orchestrator without pruning).
	PruneAuto = "auto"
	// PruneIgnore: readiness alone.
	PruneIgnore = "ignore"
)

// Config describes one simulated fleet. Durations named "fleet time" are how
// long things take in the simulated fleet; they run for duration × Scale of
// wall-clock time. Start from DefaultConfig: New checks every field and fills
// nothing in.
type Config struct {
	// Hosts is the number of simulated hosts, named mac-01, mac-02, ...
	Hosts int
	// Releases, BunVersion and BootstrapVersion are the initial image spec.
	Releases         []string
	BunVersion       string
	BootstrapVersion string
	// Registry: images are built once and pulled by every host (the
	// registry template is ghcr.io/vmfleet-demo/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}).
	Registry bool
	// Missing hosts start without one of their images (spread over the
	// fleet, each missing one release in turn).
	Missing int
	// Busy hosts have their last release's image running a job when the
	// bump comes; the job ends JobTime after the bump.
	Busy int

	// Bump is BumpBootstrap, BumpBun or BumpNone; it is written BumpAfter
	// (fleet time) after the fleet first converged.
	Bump      string
	BumpAfter time.Duration
	// Rollout is RolloutImmediate or RolloutStaged: how the bump is
	// written.
	Rollout string
	// WindowAfter (fleet time) after the bump, the cleanup window opens
	// (a spec write setting an always-open window). Zero: open all along;
	// a staged rollout needs it so: the staged spec carries the cleanup
	// policy of the moment it was staged, and its promotion would close a
	// window opened meanwhile.
	WindowAfter time.Duration
	// RemovedGrace (fleet time) is the cleanup policy's removal grace: an
	// image that left every active spec is kept that long. Zero: a
	// millisecond, so that convergence includes the old images' prune.
	RemovedGrace time.Duration
	// JobTime (fleet time) after the bump, the busy hosts' jobs end.
	JobTime time.Duration

	// Fleet time of the simulated work.
	BuildTime, QueueTime, PullTime, DeleteTime time.Duration
	// CheckInterval is the agents' timer and Tick the orchestrator's full
	// reconcile interval (fleet time).
	CheckInterval, Tick time.Duration
	// Scale is wall-clock seconds per fleet second (0.001: an hour in 3.6 s).
	Scale float64

	// MaxBuilds and MaxPulls are the orchestrator's fleet-wide caps;
	// MaxBuildsPerHost its per-host cap.
	MaxBuilds, MaxBuildsPerHost, MaxPulls int
	// BuildkiteRateLimit, when positive, makes the fake Buildkite enforce
	// Buildkite's REST limit: that many requests per minute of fleet time
	// for the organization, then 429 with RateLimit-Reset until the
	// minute ends (whole seconds of wall time, as the real API rounds, so
	// at small Scale a 429 holds the orchestrator longer than a fleet
	// minute). 0: counted, never refused.
	BuildkiteRateLimit int
	// NATSMaxConsumers, when not 0, is the embedded nats-server's
	// jetstream.limits.default_max_consumers (-1: unlimited). Every agent's
	// watch of the spec bucket is a consumer of its stream, so a cap below
	// the fleet's size leaves the last agents deaf to spec changes (1,000
	// is nats-server's own default; internal/bus lifts it). 0 keeps
	// internal/bus's default: unlimited.
	NATSMaxConsumers int
	// AgentsPerConn is how many simulated agents share one NATS connection
	// (a real agent has its own): 0 picks one each while the process's
	// file descriptor limit allows (two per connection), else the fewest
	// that fit. Chaos needs one each (it cuts one host's network).
	AgentsPerConn int
	// HTTPAddr is where the orchestrator's API is served ("127.0.0.1:0": a
	// free loopback port).
	HTTPAddr string
	// Timeout bounds Run in wall-clock time from the moment the fleet is
	// up, every host having reported once (0: until ctx ends). Coming up
	// (the nats-server, stream, orchestrator and agents starting) is the
	// machine's time, not the fleet's: it has a limit of its own, the
	// greater of Timeout and a minute.
	Timeout time.Duration
	// StopWhenConverged makes Run return once the fleet converged.
	StopWhenConverged bool
	// Prune is PruneRequire, PruneAuto or PruneIgnore.
	Prune string
	// Chaos injects faults from the bump on (chaos.go).
	Chaos Chaos
}

// DefaultConfig is `vmfleet demo` without flags: 12 hosts, releases 13 and
// 14, four hosts missing an image, two busy, a bootstrap bump 10 minutes
// after the fleet is ready, builds of 20 minutes, pulls of 5, the cleanup
// window opening 40 minutes after the bump, convergence only once the
// outdated images are pruned; an hour of fleet time in 3.6 s.
func DefaultConfig() Config {
	return Config{
		Hosts: 12, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6",
		Missing: 4, Busy: 2,
		Bump: BumpBootstrap, BumpAfter: 10 * time.Minute, Rollout: RolloutImmediate, WindowAfter: 40 * time.Minute, JobTime: 50 * time.Minute,
		BuildTime: 20 * time.Minute, QueueTime: time.Minute, PullTime: 5 * time.Minute, DeleteTime: 30 * time.Second,
		CheckInterval: time.Minute, Tick: 10 * time.Second, Scale: 0.001,
		MaxBuilds: 10, MaxBuildsPerHost: 1, MaxPulls: 10,
		HTTPAddr: "127.0.0.1:0", Timeout: time.Minute, Prune: PruneRequire,
	}
}

// RegistryTemplate is the simulated registry's reference template.
const RegistryTemplate = "ghcr.io/vmfleet-demo/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"

// Validate checks the config, naming the field at fault.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Hosts < 1 || c.Hosts > 100000:
		return bad("hosts", "%d: want 1 to 100000", c.Hosts)
	case c.Missing < 0 || c.Missing > c.Hosts:
		return bad("missing", "%d: want 0 to hosts (%d)", c.Missing, c.Hosts)
	case c.Busy < 0 || c.Busy > c.Hosts:
		return bad("busy", "%d: want 0 to hosts (%d)", c.Busy, c.Hosts)
	case c.Scale <= 0 || c.Scale > 1:
		return bad("scale", "%g: want more than 0 and at most 1", c.Scale)
	case c.Bump != BumpBootstrap && c.Bump != BumpBun && c.Bump != BumpNone:
		return bad("bump", "%q: want bootstrap, bun or none", c.Bump)
	case c.Rollout != RolloutImmediate && c.Rollout != RolloutStaged:
		return bad("rollout", "%q: want immediate or staged", c.Rollout)
	case c.Rollout == RolloutStaged && c.Bump == BumpNone:
		return bad("rollout", "staged: needs a bump to stage (bump is none)")
	case c.Rollout == RolloutStaged && c.WindowAfter > 0:
		return bad("window_after", "%s: a staged rollout needs the cleanup window open all along (0): the staged spec carries the cleanup policy of the moment it was staged, and its promotion would close a window opened meanwhile", c.WindowAfter)
	case c.Prune != PruneRequire && c.Prune != PruneAuto && c.Prune != PruneIgnore:
		return bad("prune", "%q: want require, auto or ignore", c.Prune)
	case c.MaxBuilds < 1 || c.MaxBuildsPerHost < 1 || c.MaxPulls < 1:
		return bad("max_builds, max_builds_per_host, max_pulls", "must be 1 or more")
	case c.Timeout < 0:
		return bad("timeout", "must not be negative")
	case c.AgentsPerConn < 0 || c.AgentsPerConn > c.Hosts:
		return bad("agents_per_conn", "%d: want 0 (automatic) to hosts (%d)", c.AgentsPerConn, c.Hosts)
	case c.Chaos.On && c.AgentsPerConn > 1:
		return bad("agents_per_conn", "%d: chaos cuts one host's network at a time, so each agent needs a connection of its own (1, or 0: automatic)", c.AgentsPerConn)
	case c.BuildkiteRateLimit < 0:
		return bad("buildkite_rate_limit", "%d: must not be negative", c.BuildkiteRateLimit)
	}
	for name, d := range map[string]time.Duration{
		"bump_after": c.BumpAfter, "window_after": c.WindowAfter, "removed_grace": c.RemovedGrace, "job_time": c.JobTime,
		"build_time": c.BuildTime, "queue_time": c.QueueTime, "pull_time": c.PullTime, "delete_time": c.DeleteTime,
	} {
		if d < 0 {
			return bad(name, "%s: must not be negative", d)
		}
	}
	if c.CheckInterval <= 0 || c.Tick <= 0 {
		return bad("check_interval, tick", "must be positive")
	}
	if err := c.Chaos.validate(); err != nil {
		return err
	}
	if err := c.spec().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// spec is the initial image spec.
func (c Config) spec() events.ImageSpec {
	s := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: c.Releases, BunVersion: c.BunVersion, BootstrapVersion: c.BootstrapVersion}
	if c.Registry {
		s.Registry = RegistryTemplate
	}
	return s
}

// target is how soon after a bump every host should be ready: in registry
// mode the builds run side by side, then each host pulls its images one
// at a time (the agent pulls under the host lock): queue + build +
// releases × pull + 2 check intervals. In host mode a host builds one image
// at a time (MaxBuildsPerHost 1): releases × (queue + build) + 2 check
// intervals.
func (c Config) target() time.Duration {
	n := time.Duration(len(c.Releases))
	if c.Registry {
		return c.QueueTime + c.BuildTime + n*c.PullTime + 2*c.CheckInterval
	}
	per := max(1, c.MaxBuildsPerHost)
	rounds := (n + time.Duration(per) - 1) / time.Duration(per)
	return rounds*(c.QueueTime+c.BuildTime) + 2*c.CheckInterval
}

// real is a fleet-time duration in wall-clock time, at least floor.
func (c Config) real(d, floor time.Duration) time.Duration {
	return max(time.Duration(float64(d)*c.Scale), floor)
}

// Fleet converts a wall-clock duration to fleet time.
func (c Config) Fleet(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Scale).Round(time.Second)
}

// Timings are the wall-clock durations the components run with.
type Timings struct {
	// CheckInterval is the agents' timer (at least 100 ms, agentd's floor);
	// Heartbeat their longest silence (at least 1 s, so hosts report it in
	// whole seconds and are not stale between two heartbeats).
	CheckInterval, Heartbeat time.Duration
	// Tick, PollInterval, DoubtDelay, BackoffBase, BackoffMax and
	// PassedGrace are the orchestrator's.
	Tick, PollInterval, DoubtDelay, BackoffBase, BackoffMax, PassedGrace time.Duration
	// Build, Queue, Pull and Delete are the simulated work.
	Build, Queue, Pull, Delete time.Duration
	// BuildkiteStep is how often the fake Buildkite moves builds on.
	BuildkiteStep time.Duration
}

// Timings returns the wall-clock durations derived from the fleet times.
func (c Config) Timings() Timings {
	t := Timings{
		CheckInterval: c.real(c.CheckInterval, 100*time.Millisecond),
		Tick:          c.real(c.Tick, 20*time.Millisecond),
		PollInterval:  c.real(30*time.Second, 100*time.Millisecond),
		DoubtDelay:    c.real(30*time.Second, 100*time.Millisecond),
		BackoffBase:   c.real(time.Minute, 100*time.Millisecond),
		BackoffMax:    c.real(time.Hour, time.Second),
		// Host mode: the image is published right after the build passes;
		// under load that may take a while, and a grace too short would
		// count a good build as failed and build again.
		PassedGrace: c.real(10*time.Minute, 5*time.Second),
		Build:       c.real(c.BuildTime, 0),
		Queue:       c.real(c.QueueTime, 0),
		Pull:        c.real(c.PullTime, 0),
		Delete:      c.real(c.DeleteTime, 0),
	}
	t.Heartbeat = max(t.CheckInterval, time.Second)
	t.BuildkiteStep = min(max(t.Build/50, 5*time.Millisecond), 50*time.Millisecond)
	return t
}
