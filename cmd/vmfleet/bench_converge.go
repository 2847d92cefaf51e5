package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
)

func init() {
	configDocs["bench converge"] = func() any { c := defaultBenchConvergeConfig(); return &c }
}

// benchConvergeEnv names the command's config file.
const benchConvergeEnv = "VMFLEET_BENCH_CONVERGE_CONFIG"

// benchConvergeConfig is `vmfleet bench converge`'s configuration.
type benchConvergeConfig struct {
	Hosts              int           `yaml:"hosts" flag:"hosts" env:"VMFLEET_BENCH_CONVERGE_HOSTS" help:"simulated hosts"`
	Releases           []string      `yaml:"releases" flag:"releases" env:"VMFLEET_BENCH_CONVERGE_RELEASES" help:"macOS releases every host needs (repeat, or comma separated)"`
	Registry           bool          `yaml:"registry" flag:"registry" env:"VMFLEET_BENCH_CONVERGE_REGISTRY" help:"build each image once and pull it on every host"`
	Bump               string        `yaml:"bump" flag:"bump" env:"VMFLEET_BENCH_CONVERGE_BUMP" help:"what the measured spec change moves on: bootstrap or bun"`
	Rollout            string        `yaml:"rollout" flag:"rollout" env:"VMFLEET_BENCH_CONVERGE_ROLLOUT" help:"how the change is made: immediate (spec set) or staged (spec stage --auto-promote 100%)"`
	BuildTime          time.Duration `yaml:"build_time" flag:"build-time" env:"VMFLEET_BENCH_CONVERGE_BUILD_TIME" help:"fleet time one image build takes"`
	PullTime           time.Duration `yaml:"pull_time" flag:"pull-time" env:"VMFLEET_BENCH_CONVERGE_PULL_TIME" help:"fleet time one pull takes"`
	CheckInterval      time.Duration `yaml:"check_interval" flag:"check-interval" env:"VMFLEET_BENCH_CONVERGE_CHECK_INTERVAL" help:"fleet time between two timed checks of an agent"`
	Scale              float64       `yaml:"scale" flag:"scale" env:"VMFLEET_BENCH_CONVERGE_SCALE" help:"wall-clock seconds per fleet second"`
	MaxBuilds          int           `yaml:"max_builds" flag:"max-builds" env:"VMFLEET_BENCH_CONVERGE_MAX_BUILDS" help:"the orchestrator's cap on live builds (0: hosts × releases, no cap)"`
	MaxPulls           int           `yaml:"max_pulls" flag:"max-pulls" env:"VMFLEET_BENCH_CONVERGE_MAX_PULLS" help:"the orchestrator's cap on pulls in flight (0: hosts × releases, no cap)"`
	BuildkiteRateLimit int           `yaml:"buildkite_rate_limit" flag:"buildkite-rate-limit" env:"VMFLEET_BENCH_CONVERGE_BUILDKITE_RATE_LIMIT" help:"REST requests per minute of fleet time the fake Buildkite answers before 429, as Buildkite limits an organization (0: no limit)"`
	NATSMaxConsumers   int           `yaml:"nats_max_consumers" flag:"nats-max-consumers" env:"VMFLEET_BENCH_CONVERGE_NATS_MAX_CONSUMERS" help:"cap on consumers per stream of the embedded nats-server (0: vmfleet's default, unlimited; 1000 is nats-server's own); every agent's spec watch is one consumer"`
	AgentsPerConn      int           `yaml:"agents_per_conn" flag:"agents-per-conn" env:"VMFLEET_BENCH_CONVERGE_AGENTS_PER_CONN" help:"simulated agents sharing one NATS connection (0: one each while the file descriptor limit allows, else the fewest that fit; chaos needs one each)"`
	ExpectPrune        string        `yaml:"expect_prune" flag:"expect-prune" env:"VMFLEET_BENCH_CONVERGE_EXPECT_PRUNE" help:"require, auto or ignore: whether convergence waits for outdated images to be pruned"`
	Timeout            time.Duration `yaml:"timeout" flag:"timeout" env:"VMFLEET_BENCH_CONVERGE_TIMEOUT" help:"limit on the run from when every host reported once"`
	JSON               bool          `yaml:"json" flag:"json" env:"VMFLEET_BENCH_CONVERGE_JSON" help:"print one JSON object instead of a table"`
	Chaos              bool          `yaml:"chaos" flag:"chaos" env:"VMFLEET_BENCH_CONVERGE_CHAOS" help:"inject faults from the bump on, seeded (see docs/reliability.md)"`
	ChaosSeed          int64         `yaml:"chaos_seed" flag:"chaos-seed" env:"VMFLEET_BENCH_CONVERGE_CHAOS_SEED" help:"the chaos schedule's seed: the same seed, the same faults"`
	ChaosRate          string        `yaml:"chaos_rate" flag:"chaos-rate" env:"VMFLEET_BENCH_CONVERGE_CHAOS_RATE" help:"a multiplier of every fault kind's rate (2), kinds' rates per hour (host_offline=3,build_fail=0), or both"`
	ChaosWindow        time.Duration `yaml:"chaos_window" flag:"chaos-window" env:"VMFLEET_BENCH_CONVERGE_CHAOS_WINDOW" help:"fleet time after the bump during which faults happen; they stop then"`
}

func (c benchConvergeConfig) chaos() chaosOptions {
	return chaosOptions{on: c.Chaos, seed: c.ChaosSeed, rate: c.ChaosRate, window: c.ChaosWindow}
}

func defaultBenchConvergeConfig() benchConvergeConfig {
	return benchConvergeConfig{
		Hosts: 1000, Releases: []string{"13", "14"}, Bump: fleetsim.BumpBootstrap, Rollout: fleetsim.RolloutImmediate,
		BuildTime: 20 * time.Minute, PullTime: 5 * time.Minute, CheckInterval: time.Minute, Scale: 0.01,
		ExpectPrune: fleetsim.PruneRequire, Timeout: 10 * time.Minute, BuildkiteRateLimit: 200, ChaosSeed: 1, ChaosWindow: fleetsim.DefaultChaosWindow,
	}
}

// sim is the measured fleet: every host ready on the initial spec, a bump a
// minute (fleet time) after, the cleanup window open all along, no queue
// time, no cap on builds or pulls unless asked.
func (c benchConvergeConfig) sim() fleetsim.Config {
	s := fleetsim.DefaultConfig()
	s.Hosts, s.Releases, s.Registry, s.Bump, s.Rollout = c.Hosts, c.Releases, c.Registry, c.Bump, c.Rollout
	s.Missing, s.Busy, s.BumpAfter, s.WindowAfter, s.QueueTime = 0, 0, time.Minute, 0, 0
	s.BuildTime, s.PullTime, s.CheckInterval, s.Scale = c.BuildTime, c.PullTime, c.CheckInterval, c.Scale
	s.MaxBuilds, s.MaxPulls, s.NATSMaxConsumers = c.MaxBuilds, c.MaxPulls, c.NATSMaxConsumers
	s.BuildkiteRateLimit, s.AgentsPerConn = c.BuildkiteRateLimit, c.AgentsPerConn
	if s.MaxBuilds == 0 {
		s.MaxBuilds = max(1, c.Hosts*len(c.Releases))
	}
	if s.MaxPulls == 0 {
		s.MaxPulls = max(1, c.Hosts*len(c.Releases))
	}
	s.Prune, s.Timeout, s.StopWhenConverged = c.ExpectPrune, c.Timeout, true
	return s
}

func newBenchConvergeCmd(g *globalFlags) *cobra.Command {
	cfg := defaultBenchConvergeConfig()
	cmd := &cobra.Command{
		Use:   "converge",
		Short: "Time a fleet's convergence after a version bump; count builds, pulls, prunes and safety violations",
		Long: `Runs the demo's simulation without the story: N hosts (real agents over an
in-memory tart, each on its own NATS connection, or a few sharing one when
the process's file descriptor limit is too low: --agents-per-conn) that start with the initial
spec's images in place and all report ready on it; a minute (fleet time)
later the spec moves on (--bump) and the fleet must build (host mode: one
build per image and host; --registry: one per image, then every host pulls)
until every host is ready on the new spec and the old images are pruned.
Durations are fleet time, run at --scale.

--rollout says how the spec moves on: immediate writes it in force, as
'vmfleet spec set' does (today's behaviour: a host is not ready until it
holds the new images); staged stages it through the orchestrator's API, as
'vmfleet spec stage --auto-promote 100%' does: hosts get the new images
beside the current ones and the orchestrator promotes the staged spec once
every non-stale host holds them.

Prints the time to full readiness against its target (registry mode: build +
one pull per release, a host pulling one image at a time, + 2 check
intervals; host mode: one build per release, one after the other, + 2 check
intervals), builds created against the ideal count, pulls, prunes, safety
violations (exit 1 if any, or if the fleet did not converge), and, from the
change to the end, the fewest hosts ready for the spec in force
(min_ready_hosts: every release's image of the spec in force checked ready
on the host) and the outage (outage_seconds: fleet time during which some
release of the spec in force had no ready host, so its jobs had nowhere to
run).

--chaos injects faults from the bump on, each kind at its own rate, on a
schedule the seed decides (--chaos-seed; the same seed, the same faults):
builds failing or hanging, Buildkite 429 storms, 5xx bursts and creates
answered 500, webhooks lost, duplicated or late, the leading orchestrator of
two replicas killed, the nats-server restarted, hosts offline, rebooted or
reimaged, tart failing or hanging, VMs deleted behind vmfleet's back, disks
filling up, agents restarted mid-pull or mid-prune, clocks minutes off. The
faults stop --chaos-window after the bump; the run then reports how long the
fleet took to heal (healed_after_last_fault_seconds), the faults by kind, and
the builds against the ideal (the extra ones only those retried after an
injected failure), with the safety checks on throughout.`,
		Example: `  vmfleet bench converge --hosts 1000 --releases 13,14 --registry
  vmfleet bench converge --hosts 1000 --releases 13,14 --registry --rollout staged --json
  vmfleet bench converge --hosts 8 --json
  vmfleet bench converge --hosts 1000 --releases 13,14 --registry --chaos --chaos-seed 1 --json`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, benchConvergeEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Load(); err != nil {
			return err
		}
		compLog, err := componentLogger(g, cmd.ErrOrStderr(), "error")
		if err != nil {
			return err
		}
		sc := cfg.sim()
		if err := cfg.chaos().apply(&sc); err != nil {
			return err
		}
		sim, err := fleetsim.New(sc, fleetsim.WithComponentLogger(compLog))
		if err != nil {
			return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
		}
		runErr := sim.Run(cmd.Context())
		res := sim.Result()
		if cfg.JSON {
			if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
				return err
			}
		} else {
			printConverge(cmd.OutOrStdout(), sim.Config(), res)
		}
		if errors.Is(runErr, fleetsim.ErrNotConverged) || errors.Is(runErr, fleetsim.ErrViolations) {
			return exitCode(1, runErr)
		}
		return runErr
	}
	return cmd
}

func printConverge(w io.Writer, c fleetsim.Config, r fleetsim.Result) {
	mode := "host mode"
	if r.Registry {
		mode = "registry mode"
	}
	wall := func(s fleetsim.Seconds) string {
		return fmt.Sprintf("%s fleet (%s wall)", s.D(), time.Duration(float64(s.D())*c.Scale).Round(time.Millisecond))
	}
	ready := "did not converge"
	if r.Converged {
		ready = wall(r.ReadyAfterBump)
	}
	buildTarget := "one per (image, host)"
	if r.Registry {
		buildTarget = "exactly one per (release, image)"
	}
	rows := []benchRow{
		{"rollout", rolloutNote(r), ""},
		{"fewest hosts ready for the spec in force", fmt.Sprintf("%d of %d (%.1f%%)", r.MinReadyHosts, r.Hosts, 100*r.MinReadyFraction), "from the change to the end"},
		{"outage: some release with no ready host", wall(r.OutageSeconds), "its jobs had nowhere to run"},
		{"host time not ready", fmt.Sprintf("%s fleet", r.NotReadyHostSeconds.D().Round(time.Second)), "summed over hosts"},
		{"hosts ready after the bump", ready, fmt.Sprintf("≤ %s (%s): %s", r.Target.D(), targetFormula(r), verdict(r.Converged && r.ReadyAfterBump <= r.Target))},
		{"builds created", fmt.Sprintf("%d (ideal %d)", r.BuildsCreated, r.BuildsIdeal), buildTarget + ": " + verdict(r.BuildsCreated == r.BuildsIdeal)},
		{"pull commands / pulls done", fmt.Sprintf("%d / %d", r.PullCommands, r.Pulls), ""},
		{"prune commands / VMs deleted", fmt.Sprintf("%d / %d", r.PruneCommands, r.Deleted), pruneNote(r)},
		{"safety violations", fmt.Sprint(len(r.Violations)), "0: " + verdict(len(r.Violations) == 0)},
		{"converged after the bump", wall(r.ConvergedAfterBump), "old images pruned"},
		{"first ready (all hosts started)", wall(r.FirstReady), ""},
		{"wall time of the run", r.Wall.String(), ""},
		{"physical floor of hosts ready", fmt.Sprintf("%s fleet", r.FloorSeconds.D()), fmt.Sprintf("builds at the cap (%d), pulls at the cap (%d), one check", r.MaxBuilds, r.MaxPulls)},
		{"CPU, peak RSS", fmt.Sprintf("%.1f s, %.0f MB", r.CPUSeconds, float64(r.PeakRSS)/1e6), "the whole process"},
		{"agents' NATS connections", fmt.Sprintf("%d (%d agents each)", r.AgentConns, r.AgentsPerConn), "a real agent has its own"},
		{"Buildkite REST requests (429s)", fmt.Sprintf("%d (%d)", r.BuildkiteRequests, r.BuildkiteRateLimited), rateLimitNote(r)},
	}
	writeTable(w, fmt.Sprintf("vmfleet bench converge: %d hosts, releases %s, %s, %s bump (%s), scale %g", r.Hosts, joinComma(r.Releases), mode, r.Bump, r.Rollout, r.Scale), rows)
	printChaos(w, r)
	for _, v := range r.Violations {
		fmt.Fprintf(w, "violation %s %s%s%s: %s\n", v.Kind, v.Host, v.Key, v.VM, v.Detail)
	}
}

// rolloutNote says how the change was made.
func rolloutNote(r fleetsim.Result) string {
	if r.Rollout == fleetsim.RolloutStaged {
		return fmt.Sprintf("staged (spec stage --auto-promote 100%%), promoted %s after the stage", r.PromotedAfterBump.D())
	}
	return "immediate (spec set)"
}

// targetFormula says how Result.Target is made.
func targetFormula(r fleetsim.Result) string {
	if r.Registry {
		return fmt.Sprintf("build + %d pulls one after the other + 2 check intervals", len(r.Releases))
	}
	return fmt.Sprintf("%d builds one after the other on each host + 2 check intervals", len(r.Releases))
}

func pruneNote(r fleetsim.Result) string {
	if r.PruneChecked {
		return "every outdated image pruned"
	}
	return "pruning not checked (no prune command came)"
}

// rateLimitNote says which Buildkite limit the fake enforced.
func rateLimitNote(r fleetsim.Result) string {
	if r.BuildkiteRateLimit == 0 {
		return "no limit enforced"
	}
	return fmt.Sprintf("limit %d a minute (fleet time)", r.BuildkiteRateLimit)
}
