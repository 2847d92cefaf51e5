package orchestrator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// fakePruneAgent answers prune commands as the test says.
type fakePruneAgent struct {
	mu    sync.Mutex
	sent  []string // hosts, in order
	reply func(host string, req events.PruneRequest) (events.Reply, error)
	hold  chan struct{} // when set, each send waits for it
}

func (f *fakePruneAgent) send(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error) {
	f.mu.Lock()
	f.sent = append(f.sent, host)
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return events.Reply{}, ctx.Err()
		}
	}
	return f.reply(host, req)
}

func (f *fakePruneAgent) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// deleted is an agent's reply: every VM deleted, then a report at seq.
func deleted(seq uint64) func(string, events.PruneRequest) (events.Reply, error) {
	return func(host string, req events.PruneRequest) (events.Reply, error) {
		rep := events.Reply{OK: true, Health: &events.HostHealth{Host: host, BootID: "b", Seq: seq}}
		for _, vm := range req.VMs {
			rep.Prune = append(rep.Prune, events.PruneOutcome{Host: host, VM: vm, Result: events.PruneDeleted})
		}
		return rep, nil
	}
}

func newTestPrunes(t *testing.T, now func() time.Time, agent *fakePruneAgent, conc int) (*pruneManager, chan string) {
	t.Helper()
	cfg, err := Config{PruneConcurrency: conc, Spec: events.Spec{Images: testImages()}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := newPruneManager(cfg, testLogger(t), now, agent.send)
	done := make(chan string, 100)
	p.onDone = func(host string, _ events.Reply, _ error) { done <- host }
	t.Cleanup(p.Wait)
	return p, done
}

func want(host string, seq uint64) pruneWant {
	return pruneWant{host: host, vms: []string{"bun-build-macos-14-1.2.15-bootstrap-3.6"}, reason: events.PruneReasonWindow, boot: "b", seq: seq}
}

// TestPruneManagerResends: a prune is sent again only after the host
// reported its effect, and after a failure only once the backoff passed.
func TestPruneManagerResends(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	tests := []struct {
		name  string
		reply func(string, events.PruneRequest) (events.Reply, error)
		// then: (seq of the next want, clock advance) -> sent again?
		steps []struct {
			seq     uint64
			advance time.Duration
			sent    bool
		}
	}{
		{name: "deleted: waits for the report after the prune", reply: deleted(5), steps: []struct {
			seq     uint64
			advance time.Duration
			sent    bool
		}{{seq: 1}, {seq: 4}, {seq: 5, sent: true}}},
		{name: "kept busy: backs off", reply: func(h string, r events.PruneRequest) (events.Reply, error) {
			return events.Reply{OK: true, Health: &events.HostHealth{Host: h, BootID: "b", Seq: 2},
				Prune: []events.PruneOutcome{{Host: h, VM: r.VMs[0], Result: events.PruneSkipped, Reason: "busy"}}}, nil
		}, steps: []struct {
			seq     uint64
			advance time.Duration
			sent    bool
		}{{seq: 2}, {seq: 3, advance: 30 * time.Second}, {seq: 3, advance: 31 * time.Second, sent: true}}},
		{name: "no reply: waits for a new report and backs off", reply: func(string, events.PruneRequest) (events.Reply, error) {
			return events.Reply{}, context.DeadlineExceeded
		}, steps: []struct {
			seq     uint64
			advance time.Duration
			sent    bool
		}{{seq: 1, advance: time.Hour}, {seq: 2, sent: true}}},
		{name: "lock busy: backs off only", reply: func(string, events.PruneRequest) (events.Reply, error) {
			return events.Reply{Code: events.CodeBusy, Error: "host lock busy"}, nil
		}, steps: []struct {
			seq     uint64
			advance time.Duration
			sent    bool
		}{{seq: 1, advance: 59 * time.Second}, {seq: 1, advance: time.Second, sent: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = t0
			agent := &fakePruneAgent{reply: tt.reply}
			p, done := newTestPrunes(t, clock, agent, 10)
			ctx := t.Context()
			p.Dispatch(ctx, []pruneWant{want("mac-01", 1)}, true)
			<-done
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				before := agent.count()
				p.Dispatch(ctx, []pruneWant{want("mac-01", st.seq)}, true)
				if st.sent {
					<-done
				}
				if got := agent.count() - before; got != map[bool]int{true: 1}[st.sent] {
					t.Errorf("Got(step %d: sends) = %d, want sent=%v", i, got, st.sent)
				}
			}
		})
	}
}

// TestPruneManagerInFlightAndCap: never two prunes in flight to one host;
// at most PruneConcurrency fleet-wide; an operator's prune meets the one
// in flight with ErrPruneInFlight.
func TestPruneManagerInFlightAndCap(t *testing.T) {
	agent := &fakePruneAgent{reply: deleted(9), hold: make(chan struct{})}
	p, done := newTestPrunes(t, func() time.Time { return t0 }, agent, 2)
	ctx := t.Context()
	wants := []pruneWant{want("mac-01", 1), want("mac-02", 1), want("mac-03", 1)}
	p.Dispatch(ctx, wants, true)
	p.Dispatch(ctx, wants, false)
	if got := p.InFlight(); got != 2 {
		t.Errorf("Got(in flight) = %d, want 2 (the cap)", got)
	}
	if _, err := p.run(ctx, "mac-01", "b", 1, events.PruneRequest{VMs: wants[0].vms, Now: true}); !errors.Is(err, ErrPruneInFlight) {
		t.Errorf("Got(operator prune while one is in flight) = %v, want ErrPruneInFlight", err)
	}
	close(agent.hold)
	<-done
	<-done
	p.Dispatch(ctx, wants, true)
	<-done
	agent.mu.Lock()
	got := agent.sent
	agent.mu.Unlock()
	if diff := cmp.Diff([]string{"mac-01", "mac-02", "mac-03"}, slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("Got(hosts sent to) diff (-want +got):\n%s", diff)
	}
}

// BenchmarkPrunePlan10k is the prune step of a full pass over 10,000 hosts
// inside a window, each with one outdated image to prune: cold (every plan
// computed: after a spec change or the window opening) and warm (reports
// unchanged since the last pass: the cached plans).
func BenchmarkPrunePlan10k(b *testing.B) {
	now := t0
	cfg := Config{Spec: events.Spec{Images: testImages(), Cleanup: events.CleanupPolicy{
		Windows: []events.Window{{Schedule: "0 12 * * *", Duration: events.Duration(time.Hour)}}}}}
	o := newTestOrchestrator(b, &fakeBK{}, cfg, func() time.Time { return now })
	hosts := make([]*hostState, 10_000)
	names := make([]string, len(hosts))
	for i := range hosts {
		h := health(hostName(i), "boot", 1, t0)
		hosts[i], names[i] = &hostState{h: &h, lastSeen: t0}, hostName(i)
	}
	for _, cold := range []bool{true, false} {
		b.Run(map[bool]string{true: "cold", false: "warm"}[cold], func(b *testing.B) {
			var w wants
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					o.plans.Clear()
				}
				w.reset()
				w.prune = o.pruneView(now)
				for i, hs := range hosts {
					o.derivePrune(names[i], hs, &w)
				}
			}
			if len(w.prunes) != len(hosts) {
				b.Fatalf("Got(prunes) = %d, want %d", len(w.prunes), len(hosts))
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/pass")
		})
	}
}
