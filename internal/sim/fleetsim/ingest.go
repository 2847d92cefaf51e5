package fleetsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// IngestConfig is one `vmfleet bench ingest` run: health events of Hosts
// hosts published through a real embedded nats-server into the VMFLEET
// stream and consumed by a running orchestrator.
type IngestConfig struct {
	Hosts int
	// Duration of each phase.
	Duration time.Duration
	// Rate is the paced phase's events per second, published as agents do
	// (core NATS, Nats-Msg-Id set); 0 skips it.
	Rate int
	// Flood runs a phase publishing as fast as the orchestrator takes
	// events in (core NATS as agents publish, no Nats-Msg-Id, at most
	// 20,000 events ahead of the orchestrator) to find the ingest ceiling.
	Flood bool
	// Raw, with Flood, ends with the raw phase: the flood again without
	// vmfleet (the orchestrator stopped, one consumer made as its own that
	// only counts), so the flood's rate can be read as a fraction of the
	// path it rides on.
	Raw bool
	// Releases and VMs shape each event (every release ready; VMs local VMs).
	Releases []string
	VMs      int
}

// DefaultIngestConfig is `vmfleet bench ingest` without flags.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{Hosts: 10000, Duration: 30 * time.Second, Rate: 10000, Flood: true, Raw: true, Releases: []string{"13", "14"}, VMs: 4}
}

// IngestResult is what an ingest run measured.
type IngestResult struct {
	Hosts      int          `json:"hosts"`
	EventBytes int          `json:"event_bytes"`
	Paced      *IngestPhase `json:"paced,omitempty"`
	Flood      *IngestPhase `json:"flood,omitempty"`
	// Raw is the raw phase; FloodFraction the flood's events/s over the
	// raw phase's (0 when either did not run). FloodCPUFraction is the raw
	// phase's CPU time per event over the flood's: the fraction two cores
	// left to the process would give when both phases are CPU-bound, and
	// steadier than FloodFraction when other processes take the cores.
	Raw              *IngestPhase `json:"raw,omitempty"`
	FloodFraction    float64      `json:"flood_fraction_of_raw,omitempty"`
	FloodCPUFraction float64      `json:"flood_cpu_fraction_of_raw,omitempty"`
	Known            int          `json:"hosts_known"`
	// HostsHeapBytes is how much the Go heap (after GC) grew when every
	// host's first event was ingested: the orchestrator's fleet state and
	// nats-server's per-subject state. SeededRSSBytes is the process's
	// peak RSS at that point, before the timed phases.
	HostsHeapBytes int64  `json:"hosts_heap_bytes"`
	SeededRSSBytes int64  `json:"seeded_peak_rss_bytes"`
	Machine        string `json:"machine"`
}

// IngestPhase is one phase's figures. Latency is from the publish time
// carried in a sampled event (its checked_at) until the orchestrator's
// state shows that event (Orchestrator.Host's sequence number), polled
// every 100 µs (every millisecond in the flood, whose latencies are
// hundreds of milliseconds); EventsPerSec counts events the consumer
// received.
type IngestPhase struct {
	Name         string  `json:"name"`
	TargetRate   int     `json:"target_rate,omitempty"`
	Published    int     `json:"published"`
	Received     int     `json:"received"`
	Elapsed      Seconds `json:"elapsed_s"`
	EventsPerSec float64 `json:"events_per_s"`
	Samples      int     `json:"latency_samples"`
	P50          Seconds `json:"p50_s"`
	P99          Seconds `json:"p99_s"`
	Max          Seconds `json:"max_s"`
	CPUSeconds   float64 `json:"cpu_s"`
	// PeakRSSBytes is the process's high-water RSS at the end of the phase
	// (orchestrator, embedded nats-server and publisher together).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// HeapBytes is the Go heap in use after a GC at the end of the phase.
	HeapBytes uint64 `json:"heap_bytes"`
}

// Ingest runs the ingest benchmark.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestResult, error) {
	if cfg.Hosts < 1 || cfg.Duration <= 0 || cfg.Rate < 0 || len(cfg.Releases) == 0 || cfg.VMs < 0 {
		return IngestResult{}, fmt.Errorf("%w: ingest: want hosts ≥ 1, a positive duration, a rate ≥ 0 and releases", ErrInvalidConfig)
	}
	dir, err := os.MkdirTemp("", "vmfleet-ingest-")
	if err != nil {
		return IngestResult{}, err
	}
	defer os.RemoveAll(dir)
	b, err := startIngestBench(ctx, cfg, dir)
	if err != nil {
		return IngestResult{}, err
	}
	defer b.close()
	res := IngestResult{Hosts: cfg.Hosts, EventBytes: len(b.events[0].data), Machine: machine()}
	before := heapInUse()
	if err := b.seed(ctx); err != nil {
		return res, err
	}
	res.HostsHeapBytes = int64(heapInUse()) - int64(before)
	res.SeededRSSBytes = peakRSS()
	if cfg.Rate > 0 {
		p, err := b.phase(ctx, "paced", cfg.Rate)
		if err != nil {
			return res, err
		}
		res.Paced = &p
	}
	if cfg.Flood {
		p, err := b.phase(ctx, "flood", 0)
		if err != nil {
			return res, err
		}
		res.Flood = &p
	}
	res.Known = len(b.o.Hosts())
	if cfg.Flood && cfg.Raw {
		p, err := b.rawPhase(ctx)
		if err != nil {
			return res, err
		}
		res.Raw = &p
		if p.EventsPerSec > 0 {
			res.FloodFraction = res.Flood.EventsPerSec / p.EventsPerSec
		}
		if f := res.Flood; p.Received > 0 && f.Received > 0 && f.CPUSeconds > 0 {
			res.FloodCPUFraction = (p.CPUSeconds / float64(p.Received)) / (f.CPUSeconds / float64(f.Received))
		}
	}
	return res, nil
}

// heapInUse is the Go heap in use after a GC.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// machine names the machine a figure comes from.
func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// orchestratorInstance names the bench's orchestrator, whose durable
// consumer is orchestratorConsumer.
const (
	orchestratorInstance = "bench"
	orchestratorConsumer = "orchestrator-" + orchestratorInstance
)

// ingestBench is the running system under measurement: the world (its
// nats-server, stream, buckets and fake Buildkite), a publisher connection
// of its own and the orchestrator.
type ingestBench struct {
	cfg    IngestConfig
	w      *simworld.World
	nc     *nats.Conn
	js     jetstream.JetStream
	wo     *simworld.Orchestrator
	o      *orchestrator.Orchestrator
	reg    *prometheus.Registry
	stop   context.CancelFunc
	done   chan error
	subj   events.Subjects
	events []hostEvent
	// count is what the consumer under measurement received so far: the
	// orchestrator's count, then the raw phase's.
	count func() int
}

func startIngestBench(ctx context.Context, cfg IngestConfig, dir string) (b *ingestBench, err error) {
	b = &ingestBench{cfg: cfg, reg: prometheus.NewRegistry()}
	b.count = b.received
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	// Every host is ready, so nothing is ever built; the fake Buildkite is
	// there because an orchestrator without one stops at once (its agents
	// loop returns, which ends Run).
	if b.w, err = simworld.New(ctx, simworld.WithNATSServer(bus.ServerConfig{DataDir: filepath.Join(dir, "nats"), Name: "vmfleet-bench"}),
		simworld.WithName("vmfleet-bench"), simworld.WithPipeline(bkOrg, bkPipeline), simworld.WithBuildkiteTimeout(10*time.Second)); err != nil {
		return b, err
	}
	b.subj = b.w.Subjects
	if b.nc, err = nats.Connect(b.w.ClientURL(), nats.Name("vmfleet-bench publisher")); err != nil {
		return b, err
	}
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		return b, err
	}
	spec := events.Spec{Images: events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: cfg.Releases, BunVersion: "1.2.16", BootstrapVersion: "3.6"}}
	if b.wo, err = b.w.NewOrchestrator(orchestrator.Config{Spec: spec, Instance: orchestratorInstance}, orchestrator.WithRegistry(b.reg)); err != nil {
		return b, err
	}
	b.o = b.wo.Orchestrator
	octx, cancel := context.WithCancel(ctx)
	b.stop, b.done = cancel, make(chan error, 1)
	go func() { b.done <- b.o.Run(octx) }()
	if err := b.waitReady(ctx); err != nil {
		return b, err
	}
	b.events = makeHostEvents(cfg, spec.Images, b.subj)
	return b, nil
}

// waitReady waits until the orchestrator caught up, or fails if it stopped.
func (b *ingestBench) waitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !b.o.Ready() {
		select {
		case err := <-b.done:
			b.stop, b.done = nil, nil
			return fmt.Errorf("the orchestrator stopped before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (b *ingestBench) close() {
	b.stopOrchestrator()
	if b.wo != nil {
		b.wo.Close()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.w != nil {
		b.w.Close()
	}
}

// received is the orchestrator's count of health events received.
func (b *ingestBench) received() int {
	if b.o == nil {
		return 0
	}
	return int(b.o.EventsReceived())
}
