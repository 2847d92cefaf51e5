package fleetsim

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func TestIngestMeasuresBothPhases(t *testing.T) {
	t.Parallel()
	res, err := Ingest(t.Context(), IngestConfig{Hosts: 50, Duration: 300 * time.Millisecond, Rate: 1000, Flood: true, Raw: true, Releases: []string{"13", "14"}, VMs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Known != 50 || res.EventBytes < 500 {
		t.Errorf("Got(hosts known, event bytes) = %d, %d, want 50, > 500", res.Known, res.EventBytes)
	}
	for _, p := range []*IngestPhase{res.Paced, res.Flood} {
		if p == nil {
			t.Fatal("Got(phase) = nil, want both phases")
		}
		if p.Published == 0 || p.Received != p.Published || p.Samples == 0 || p.P50 <= 0 || p.P99 < p.P50 || p.PeakRSSBytes == 0 {
			t.Errorf("Got(%s phase) = %+v, want every event received, samples and latencies", p.Name, *p)
		}
	}
	if res.Raw == nil {
		t.Fatal("Got(raw phase) = nil, want it after the flood")
	}
	if p := res.Raw; p.Published == 0 || p.Received != p.Published || p.Samples != 0 {
		t.Errorf("Got(raw phase) = %+v, want every event received by the raw consumer, no latency samples", *p)
	}
	if want := res.Flood.EventsPerSec / res.Raw.EventsPerSec; res.FloodFraction != want || want <= 0 {
		t.Errorf("Got(flood fraction of raw) = %g, want %g > 0", res.FloodFraction, want)
	}
	if res.FloodCPUFraction <= 0 {
		t.Errorf("Got(flood CPU fraction of raw) = %g, want > 0", res.FloodCPUFraction)
	}
	if got := res.Paced.Published; got != 300 {
		t.Errorf("Got(paced events in 300 ms at 1000/s) = %d, want 300", got)
	}
}

func TestAgentBenchThroughTheFakeExecutable(t *testing.T) {
	t.Parallel()
	res, err := AgentBench(t.Context(), AgentBenchConfig{VMs: 40, Iterations: 3, Tart: tarttest.BuildExecutable(t), Releases: []string{"13", "14"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]AgentStat{"check": res.Check, "tart list": res.List, "in memory": res.InMemory} {
		if s.Mean <= 0 || s.P99 < s.P50 || s.AllocsPerOp == 0 {
			t.Errorf("Got(%s) = %+v, want positive times and allocations", name, s)
		}
	}
	if res.Check.Mean < res.InMemory.Mean {
		t.Errorf("Got(check through a process %s < in memory %s), want the process to cost something", res.Check.Mean, res.InMemory.Mean)
	}
}
