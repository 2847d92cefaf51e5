package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
)

func init() {
	configDocs["bench ingest"] = func() any { c := defaultBenchIngestConfig(); return &c }
}

// benchIngestEnv names the command's config file.
const benchIngestEnv = "VMFLEET_BENCH_INGEST_CONFIG"

// benchIngestConfig is `vmfleet bench ingest`'s configuration.
type benchIngestConfig struct {
	Hosts    int           `yaml:"hosts" flag:"hosts" env:"VMFLEET_BENCH_INGEST_HOSTS" help:"hosts whose health events are published"`
	Duration time.Duration `yaml:"duration" flag:"duration" env:"VMFLEET_BENCH_INGEST_DURATION" help:"length of each phase"`
	Rate     int           `yaml:"rate" flag:"rate" env:"VMFLEET_BENCH_INGEST_RATE" help:"events per second of the paced phase (0: skip it)"`
	Flood    bool          `yaml:"flood" flag:"flood" env:"VMFLEET_BENCH_INGEST_FLOOD" help:"also run the flood phase (publish as fast as the orchestrator takes events in)"`
	Raw      bool          `yaml:"raw" flag:"raw" env:"VMFLEET_BENCH_INGEST_RAW" help:"with --flood, end with the raw phase: the flood again without vmfleet (one consumer that only counts), and report the flood as a fraction of it"`
	VMs      int           `yaml:"vms" flag:"vms" env:"VMFLEET_BENCH_INGEST_VMS" help:"VMs in each host's inventory (event size)"`
	JSON     bool          `yaml:"json" flag:"json" env:"VMFLEET_BENCH_INGEST_JSON" help:"print one JSON object instead of a table"`
}

func defaultBenchIngestConfig() benchIngestConfig {
	d := fleetsim.DefaultIngestConfig()
	return benchIngestConfig{Hosts: d.Hosts, Duration: d.Duration, Rate: d.Rate, Flood: d.Flood, Raw: d.Raw, VMs: d.VMs}
}

func newBenchIngestCmd(*globalFlags) *cobra.Command {
	cfg := defaultBenchIngestConfig()
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Health events through NATS into the orchestrator: events/s, latency, CPU, RSS",
		Long: `Starts an embedded nats-server (JetStream on a temporary directory) and an
orchestrator, publishes one health event per host, then runs two phases of
--duration each: paced (--rate events/s, core NATS with Nats-Msg-Id, as agents
publish) and flood (core NATS without Nats-Msg-Id, as fast as the
orchestrator takes the events in, at most 20,000 ahead of it). With --raw
a last phase measures the path the orchestrator rides on without it: the
orchestrator stops, and the flood runs again into the same stream against one
consumer made as the orchestrator's (same filter, deliver and ack policies,
pull batch) that only counts; the flood's events/s are reported as a
fraction of the raw phase's. For each:
events/s the orchestrator received, p50/p99 latency
from the publish time carried in sampled events (checked_at) to the
orchestrator's state showing them, CPU seconds and the process's peak RSS
(orchestrator, nats-server and publisher share the process and the cores).`,
		Example: `  vmfleet bench ingest --hosts 10000 --duration 30s
  vmfleet bench ingest --hosts 1000 --duration 5s --rate 2000 --flood=false --json`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, benchIngestEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Load(); err != nil {
			return err
		}
		res, err := fleetsim.Ingest(cmd.Context(), fleetsim.IngestConfig{
			Hosts: cfg.Hosts, Duration: cfg.Duration, Rate: cfg.Rate, Flood: cfg.Flood, Raw: cfg.Raw, VMs: cfg.VMs, Releases: []string{"13", "14"},
		})
		if err != nil {
			return err
		}
		if cfg.JSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		printIngest(cmd.OutOrStdout(), res)
		return nil
	}
	return cmd
}

func printIngest(w io.Writer, r fleetsim.IngestResult) {
	ms := func(s fleetsim.Seconds) string {
		return fmt.Sprintf("%.2f ms", float64(s.D())/float64(time.Millisecond))
	}
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
	rows := []benchRow{{fmt.Sprintf("%d hosts ingested: Go heap growth, peak RSS", r.Hosts),
		fmt.Sprintf("%s, %s", mb(r.HostsHeapBytes), mb(r.SeededRSSBytes)), "< 200 MB RSS: " + verdict(r.SeededRSSBytes < 200e6)}}
	if p := r.Paced; p != nil {
		rows = append(rows,
			benchRow{fmt.Sprintf("paced %d/s: events received", p.TargetRate), fmt.Sprintf("%d of %d in %s (%.0f/s)", p.Received, p.Published, p.Elapsed, p.EventsPerSec), ""},
			benchRow{"paced: latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s (%d samples)", ms(p.P50), ms(p.P99), ms(p.Max), p.Samples), latencyTarget(p)},
			benchRow{"paced: CPU, peak RSS, Go heap", fmt.Sprintf("%.1f s, %s, %s", p.CPUSeconds, mb(p.PeakRSSBytes), mb(int64(p.HeapBytes))), ""})
	}
	if p := r.Flood; p != nil {
		rows = append(rows,
			benchRow{"flood: events received", fmt.Sprintf("%d in %s: %.0f/s", p.Received, p.Elapsed, p.EventsPerSec), "≥ 100,000/s: " + verdict(p.EventsPerSec >= 100000)},
			benchRow{"flood: latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s (%d samples)", ms(p.P50), ms(p.P99), ms(p.Max), p.Samples), ""},
			benchRow{"flood: CPU, peak RSS, Go heap", fmt.Sprintf("%.1f s, %s, %s", p.CPUSeconds, mb(p.PeakRSSBytes), mb(int64(p.HeapBytes))), ""})
	}
	if p := r.Raw; p != nil {
		rows = append(rows,
			benchRow{"raw nats-server path: events received", fmt.Sprintf("%d in %s: %.0f/s", p.Received, p.Elapsed, p.EventsPerSec), "same publisher and stream, one counting consumer"},
			benchRow{"flood as a fraction of the raw path", fmt.Sprintf("%.2f", r.FloodFraction), "≥ 0.9: " + verdict(r.FloodFraction >= 0.9)},
			benchRow{"raw: CPU, peak RSS", fmt.Sprintf("%.1f s, %s", p.CPUSeconds, mb(p.PeakRSSBytes)), ""},
			benchRow{"CPU per event, raw over flood", fmt.Sprintf("%.2f", r.FloodCPUFraction), "the fraction if both had the cores to themselves"})
	}
	writeTable(w, fmt.Sprintf("vmfleet bench ingest: %d hosts (%d known to the orchestrator), %d-byte events; %s", r.Hosts, r.Known, r.EventBytes, r.Machine), rows)
}

// latencyTarget judges the paced phase's p99 when it ran at the target's rate.
func latencyTarget(p *fleetsim.IngestPhase) string {
	if p.TargetRate < 10000 {
		return "(the target is for 10,000/s)"
	}
	return "p99 < 10 ms at 10,000/s: " + verdict(p.P99.D() < 10*time.Millisecond)
}
