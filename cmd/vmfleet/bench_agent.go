package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
)

func init() {
	configDocs["bench agent"] = func() any { c := defaultBenchAgentConfig(); return &c }
}

// benchAgentEnv names the command's config file.
const benchAgentEnv = "VMFLEET_BENCH_AGENT_CONFIG"

// benchAgentConfig is `vmfleet bench agent`'s configuration.
type benchAgentConfig struct {
	VMs        int      `yaml:"vms" flag:"vms" env:"VMFLEET_BENCH_AGENT_VMS" help:"VMs in the host's inventory"`
	Iterations int      `yaml:"iterations" flag:"iterations" env:"VMFLEET_BENCH_AGENT_ITERATIONS" help:"checks timed"`
	Tart       string   `yaml:"tart" flag:"tart" env:"VMFLEET_BENCH_AGENT_TART" help:"fake tart executable (empty: build tart/tarttest/faketart with the go command)"`
	Releases   []string `yaml:"releases" flag:"releases" env:"VMFLEET_BENCH_AGENT_RELEASES" help:"releases the check evaluates"`
	JSON       bool     `yaml:"json" flag:"json" env:"VMFLEET_BENCH_AGENT_JSON" help:"print one JSON object instead of a table"`
}

func defaultBenchAgentConfig() benchAgentConfig {
	return benchAgentConfig{VMs: 500, Iterations: 50, Releases: []string{"13", "14"}}
}

func newBenchAgentCmd(*globalFlags) *cobra.Command {
	cfg := defaultBenchAgentConfig()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Cost of one agent check on a host with many VMs, tart process included",
		Long: `Seeds the fake tart executable's state with --vms VMs and times the agent's
check through it: one 'tart list --format json' process (spawned for real),
parsing, evaluating every release and writing the last check. It also times
the tart process alone (alternating with the checks, so both see the same
machine) and the same check against an in-memory tart, so the agent's own
cost and the process's are apart. Without --tart the fake tart is
built with the go command from the vmfleet source tree (run it from there).`,
		Example: `  vmfleet bench agent --vms 500
  go build -o /tmp/tart ./tart/tarttest/faketart && vmfleet bench agent --tart /tmp/tart --json`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, benchAgentEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Load(); err != nil {
			return err
		}
		path := cfg.Tart
		if path == "" {
			dir, err := os.MkdirTemp("", "vmfleet-faketart-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if path, err = fleetsim.BuildFakeTart(cmd.Context(), dir); err != nil {
				return err
			}
		}
		res, err := fleetsim.AgentBench(cmd.Context(), fleetsim.AgentBenchConfig{VMs: cfg.VMs, Iterations: cfg.Iterations, Tart: path, Releases: cfg.Releases})
		if err != nil {
			return err
		}
		if cfg.JSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		printAgentBench(cmd.OutOrStdout(), res)
		return nil
	}
	return cmd
}

func printAgentBench(w io.Writer, r fleetsim.AgentBenchResult) {
	ms := func(s fleetsim.Seconds) string {
		return fmt.Sprintf("%.2f ms", float64(s.D())/float64(time.Millisecond))
	}
	stat := func(s fleetsim.AgentStat) string {
		return fmt.Sprintf("mean %s, p50 %s, p99 %s; %d allocs, %d KB per op", ms(s.Mean), ms(s.P50), ms(s.P99), s.AllocsPerOp, s.BytesPerOp/1000)
	}
	own := r.Check.P50.D() - r.List.P50.D()
	rows := []benchRow{
		{"check through the tart process", stat(r.Check), ""},
		{"the tart list process alone", stat(r.List), "one per check"},
		{"check, in-memory tart (no process)", stat(r.InMemory), "< 20 ms: " + verdict(r.InMemory.Mean.D() < 20*time.Millisecond)},
		{"check minus the tart process (p50s)", ms(fleetsim.Seconds(own)), "< 20 ms: " + verdict(own < 20*time.Millisecond)},
	}
	writeTable(w, fmt.Sprintf("vmfleet bench agent: %d VMs, %d checks, %s; %s", r.VMs, r.Iterations, r.Tart, r.Machine), rows)
}
