package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
)

func init() {
	register(newDemoCmd)
	configDocs["demo"] = func() any { c := defaultDemoConfig(); return &c }
}

// demoConfigEnv names the demo's config file.
const demoConfigEnv = "VMFLEET_DEMO_CONFIG"

// demoConfig is `vmfleet demo`'s configuration (docs/configuration.md,
// section `vmfleet demo`). Durations marked "fleet time" run for
// duration × scale of wall-clock time.
type demoConfig struct {
	Hosts             int           `yaml:"hosts" flag:"hosts" env:"VMFLEET_DEMO_HOSTS" help:"simulated hosts"`
	Releases          []string      `yaml:"releases" flag:"releases" env:"VMFLEET_DEMO_RELEASES" help:"macOS releases every host needs (repeat, or comma separated)"`
	Missing           int           `yaml:"missing" flag:"missing" env:"VMFLEET_DEMO_MISSING" help:"hosts that start without one of their images"`
	Busy              int           `yaml:"busy" flag:"busy" env:"VMFLEET_DEMO_BUSY" help:"hosts whose image runs a job through the bump (it must not be pruned while it runs)"`
	Registry          bool          `yaml:"registry" flag:"registry" env:"VMFLEET_DEMO_REGISTRY" help:"build each image once, push it to a simulated registry, pull it on every host"`
	Bump              string        `yaml:"bump" flag:"bump" env:"VMFLEET_DEMO_BUMP" help:"what the spec change after the first convergence moves on: bootstrap, bun or none"`
	BumpAfter         time.Duration `yaml:"bump_after" flag:"bump-after" env:"VMFLEET_DEMO_BUMP_AFTER" help:"fleet time between the fleet first being ready and the bump"`
	Rollout           string        `yaml:"rollout" flag:"rollout" env:"VMFLEET_DEMO_ROLLOUT" help:"how the bump is made: immediate (spec set) or staged (spec stage --auto-promote 100%, the cleanup window open all along)"`
	RemovedGrace      time.Duration `yaml:"removed_grace" flag:"removed-grace" env:"VMFLEET_DEMO_REMOVED_GRACE" help:"fleet time an image that left every active spec is kept before it may be pruned (shortened for the demo: 24h by default in a real fleet)"`
	WindowAfter       time.Duration `yaml:"window_after" flag:"window-after" env:"VMFLEET_DEMO_WINDOW_AFTER" help:"fleet time between the bump and the cleanup window opening (0: open all along)"`
	JobTime           time.Duration `yaml:"job_time" flag:"job-time" env:"VMFLEET_DEMO_JOB_TIME" help:"fleet time after the bump at which the busy hosts' jobs end"`
	BuildTime         time.Duration `yaml:"build_time" flag:"build-time" env:"VMFLEET_DEMO_BUILD_TIME" help:"fleet time one image build takes"`
	PullTime          time.Duration `yaml:"pull_time" flag:"pull-time" env:"VMFLEET_DEMO_PULL_TIME" help:"fleet time one pull from the registry takes"`
	CheckInterval     time.Duration `yaml:"check_interval" flag:"check-interval" env:"VMFLEET_DEMO_CHECK_INTERVAL" help:"fleet time between two timed checks of an agent"`
	Scale             float64       `yaml:"scale" flag:"scale" env:"VMFLEET_DEMO_SCALE" help:"wall-clock seconds per fleet second (0.001: an hour in 3.6 s)"`
	MaxBuilds         int           `yaml:"max_builds" flag:"max-builds" env:"VMFLEET_DEMO_MAX_BUILDS" help:"the orchestrator's cap on live builds"`
	MaxPulls          int           `yaml:"max_pulls" flag:"max-pulls" env:"VMFLEET_DEMO_MAX_PULLS" help:"the orchestrator's cap on pulls in flight"`
	ExpectPrune       string        `yaml:"expect_prune" flag:"expect-prune" env:"VMFLEET_DEMO_EXPECT_PRUNE" help:"require (converged only once outdated images are pruned), auto (require once the orchestrator prunes at all) or ignore"`
	NATSMaxConsumers  int           `yaml:"nats_max_consumers" flag:"nats-max-consumers" env:"VMFLEET_DEMO_NATS_MAX_CONSUMERS" help:"cap on consumers per stream of the embedded nats-server (0: vmfleet's default, unlimited; 1000 is nats-server's own); every agent's spec watch is one consumer"`
	HTTPAddr          string        `yaml:"http_addr" flag:"http-addr" env:"VMFLEET_DEMO_HTTP_ADDR" help:"host:port of the orchestrator's API and dashboard (port 0: a free one)"`
	ExitWhenConverged bool          `yaml:"exit_when_converged" flag:"exit-when-converged" env:"VMFLEET_DEMO_EXIT_WHEN_CONVERGED" help:"exit 0 once converged (1 on a timeout or a safety violation) instead of running until interrupted"`
	Timeout           time.Duration `yaml:"timeout" flag:"timeout" env:"VMFLEET_DEMO_TIMEOUT" help:"with --exit-when-converged, limit on the run from when every host reported once"`
	Chaos             bool          `yaml:"chaos" flag:"chaos" env:"VMFLEET_DEMO_CHAOS" help:"inject faults from the bump on, seeded (see docs/reliability.md)"`
	ChaosSeed         int64         `yaml:"chaos_seed" flag:"chaos-seed" env:"VMFLEET_DEMO_CHAOS_SEED" help:"the chaos schedule's seed: the same seed, the same faults"`
	ChaosRate         string        `yaml:"chaos_rate" flag:"chaos-rate" env:"VMFLEET_DEMO_CHAOS_RATE" help:"a multiplier of every fault kind's rate (2), kinds' rates per hour (host_offline=3,build_fail=0), or both"`
	ChaosWindow       time.Duration `yaml:"chaos_window" flag:"chaos-window" env:"VMFLEET_DEMO_CHAOS_WINDOW" help:"fleet time after the bump during which faults happen; they stop then"`
}

func defaultDemoConfig() demoConfig {
	d := fleetsim.DefaultConfig()
	return demoConfig{
		Hosts: d.Hosts, Releases: d.Releases, Missing: d.Missing, Busy: d.Busy, Registry: d.Registry,
		Bump: d.Bump, BumpAfter: d.BumpAfter, Rollout: d.Rollout, RemovedGrace: demoRemovedGrace, WindowAfter: d.WindowAfter, JobTime: d.JobTime,
		BuildTime: d.BuildTime, PullTime: d.PullTime, CheckInterval: d.CheckInterval, Scale: d.Scale,
		MaxBuilds: d.MaxBuilds, MaxPulls: d.MaxPulls, ExpectPrune: d.Prune, HTTPAddr: d.HTTPAddr, Timeout: d.Timeout,
		ChaosSeed: 1, ChaosWindow: fleetsim.DefaultChaosWindow,
	}
}

// demoRemovedGrace is the demo's removal grace (fleet time): short enough
// to watch the old images go, where a real fleet keeps them a day.
const demoRemovedGrace = 10 * time.Minute

// sim is the simulation this config describes. A staged rollout runs with
// the cleanup window open all along (fleetsim.Config.WindowAfter says why):
// the removal grace is what keeps the old images after the promotion.
func (c demoConfig) sim() fleetsim.Config {
	s := fleetsim.DefaultConfig()
	s.Hosts, s.Releases, s.Missing, s.Busy, s.Registry = c.Hosts, c.Releases, c.Missing, c.Busy, c.Registry
	s.Bump, s.BumpAfter, s.WindowAfter, s.JobTime = c.Bump, c.BumpAfter, c.WindowAfter, c.JobTime
	s.Rollout, s.RemovedGrace = c.Rollout, c.RemovedGrace
	if s.Rollout == fleetsim.RolloutStaged {
		s.WindowAfter = 0
	}
	s.BuildTime, s.PullTime, s.CheckInterval, s.Scale = c.BuildTime, c.PullTime, c.CheckInterval, c.Scale
	s.MaxBuilds, s.MaxPulls, s.Prune, s.HTTPAddr = c.MaxBuilds, c.MaxPulls, c.ExpectPrune, c.HTTPAddr
	s.NATSMaxConsumers = c.NATSMaxConsumers
	s.StopWhenConverged, s.Timeout = c.ExitWhenConverged, 0
	if c.ExitWhenConverged {
		s.Timeout = c.Timeout
	}
	return s
}

func newDemoCmd(g *globalFlags) *cobra.Command {
	cfg := defaultDemoConfig()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole system on one machine: simulated hosts heal, then follow a version bump",
		Long: `Runs everything in one process: an embedded nats-server, the orchestrator, N
simulated hosts (each a real agent over an in-memory tart) and a fake Buildkite
whose builds "build" the image on the target host, or push it to a simulated
registry (--registry) from which hosts pull.

Some hosts start missing an image: watch the orchestrator build them. Once the
fleet is ready, the spec moves on (--bump: the bootstrap or the bun version,
written to KV as 'vmfleet spec set' does): every host needs new images; the
cleanup window opens later and outdated images are pruned — never one a job is
running in. The story is told from the event stream (vmfleet.>), as any
consumer would see it, with a progress line for the fleet. Durations are fleet
time; --scale maps them to wall-clock time (0.001: an hour in 3.6 s).

With --rollout staged the bump is staged instead ('vmfleet spec stage
--auto-promote 100%'): every host stays ready on the current images while it
gets the new ones beside them; the orchestrator promotes the staged spec once
every host holds them, and no host waits for anything. The cleanup window is
then open all along: what keeps the old images after the promotion is the
removal grace (--removed-grace, 10 minutes of fleet time in the demo where a
real fleet keeps them 24 hours), after which they are pruned.

The orchestrator's read API (and dashboard) is served on --http-addr. With
--exit-when-converged the demo exits 0 once every host is ready on the final
spec and the outdated images are gone, 1 on a timeout or a safety violation.

With --chaos, faults of every kind are injected from the bump on, on a
schedule --chaos-seed decides, and stop --chaos-window later; the story
tells each one, and the summary how the fleet healed (see 'vmfleet bench
converge --help' and docs/reliability.md).`,
		Example: `  go run ./cmd/vmfleet demo
  vmfleet demo --rollout staged                       # a zero-downtime staged rollout
  vmfleet demo --registry --hosts 50
  vmfleet demo --exit-when-converged --timeout 60s     # what CI runs
  vmfleet demo --chaos --registry --hosts 30          # faults of every kind, then healing
  vmfleet demo --scale 0.01 --http-addr 127.0.0.1:8080  # slower, browse the API meanwhile`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, demoConfigEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Load(); err != nil {
			return err
		}
		return runDemo(cmd, g, cfg)
	}
	return cmd
}

func runDemo(cmd *cobra.Command, g *globalFlags, cfg demoConfig) error {
	log, err := g.newLogger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	compLog, err := componentLogger(g, cmd.ErrOrStderr(), "warn")
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	n := fleetsim.NewNarrator(out, isTerminal(out))
	observe := func(e fleetsim.Event) {
		n.Observe(e)
		if e.Kind == fleetsim.KindConverged && !cfg.ExitWhenConverged {
			n.Observe(fleetsim.Event{At: e.At, Kind: fleetsim.KindNote, Text: "the fleet keeps running and the API stays up: press Ctrl-C to stop"})
		}
	}
	sc := cfg.sim()
	if err := (chaosOptions{on: cfg.Chaos, seed: cfg.ChaosSeed, rate: cfg.ChaosRate, window: cfg.ChaosWindow}).apply(&sc); err != nil {
		return err
	}
	sim, err := fleetsim.New(sc, fleetsim.WithObserver(observe), fleetsim.WithLogger(log), fleetsim.WithComponentLogger(compLog))
	if err != nil {
		return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	runErr := sim.Run(cmd.Context())
	n.Close()
	printSummary(out, sim.Result())
	switch {
	case errors.Is(runErr, fleetsim.ErrNotConverged), errors.Is(runErr, fleetsim.ErrViolations):
		return exitCode(1, runErr)
	case runErr != nil:
		return runErr
	}
	return nil
}

// componentLogger is the orchestrator's and agents' logger: at quiet (warn
// for the demo, whose story is the output; error for benches, whose
// thousands of agents would each warn that inotify ran out) unless
// --log-level asks for something else than the default.
func componentLogger(g *globalFlags, w io.Writer, quiet string) (*slog.Logger, error) {
	c := *g
	if c.logLevel == "info" || c.logLevel == "" {
		c.logLevel = quiet
	}
	return c.newLogger(w)
}

// printSummary prints the run's counts after the story.
func printSummary(w io.Writer, r fleetsim.Result) {
	fmt.Fprintf(w, "\nbuilds created: %d (ideal %d) · pull commands: %d, pulls: %d · prune commands: %d, VMs deleted: %d · safety violations: %d\n",
		r.BuildsCreated, r.BuildsIdeal, r.PullCommands, r.Pulls, r.PruneCommands, r.Deleted, len(r.Violations))
	if r.Converged && r.Bump != fleetsim.BumpNone {
		fmt.Fprintf(w, "%s rollout, from the change to the end: at worst %d of %d hosts ready for the spec in force; %s of fleet time with a release no host was ready for\n",
			r.Rollout, r.MinReadyHosts, r.Hosts, r.OutageSeconds)
	}
	printChaos(w, r)
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  violation %s %s%s%s: %s\n", v.Kind, v.Host, v.Key, v.VM, v.Detail)
	}
}
