package prunes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
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

// newTestManager is a Manager with the orchestrator's default backoff whose
// commands go to agent; done receives once per finished command (Wake).
func newTestManager(t testing.TB, now func() time.Time, agent *fakePruneAgent, conc int) (*Manager, chan struct{}) {
	t.Helper()
	done := make(chan struct{}, 100)
	m, err := New(Config{Concurrency: conc, Timeout: 10 * time.Minute, BackoffBase: time.Minute, BackoffMax: time.Hour},
		Deps{Now: now, Log: testlog.New(t, slog.LevelDebug), Reg: prometheus.NewRegistry(),
			Wake: func() { done <- struct{}{} }, Changed: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if agent != nil {
		m.send = agent.send
	}
	t.Cleanup(m.disp.Wait)
	return m, done
}

func want(host string, seq uint64) Want {
	return Want{Host: host, VMs: []string{"bun-build-macos-14-1.2.15-bootstrap-3.6"}, Reason: events.PruneReasonWindow, Boot: "b", Seq: seq}
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
			p, done := newTestManager(t, clock, agent, 10)
			ctx := t.Context()
			p.disp.Dispatch(ctx, []Want{want("mac-01", 1)}, true)
			<-done
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				before := agent.count()
				p.disp.Dispatch(ctx, []Want{want("mac-01", st.seq)}, true)
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
	p, done := newTestManager(t, func() time.Time { return t0 }, agent, 2)
	ctx := t.Context()
	wants := []Want{want("mac-01", 1), want("mac-02", 1), want("mac-03", 1)}
	p.disp.Dispatch(ctx, wants, true)
	p.disp.Dispatch(ctx, wants, false)
	if got := p.disp.InFlight(); got != 2 {
		t.Errorf("Got(in flight) = %d, want 2 (the cap)", got)
	}
	if _, err := p.run(ctx, "mac-01", "b", 1, events.PruneRequest{VMs: wants[0].VMs, Now: true}); !errors.Is(err, ErrPruneInFlight) {
		t.Errorf("Got(operator prune while one is in flight) = %v, want ErrPruneInFlight", err)
	}
	close(agent.hold)
	<-done
	<-done
	p.disp.Dispatch(ctx, wants, true)
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
	spec := events.Spec{Images: orchtest.Images(), Cleanup: events.CleanupPolicy{
		Windows: []events.Window{{Schedule: "0 12 * * *", Duration: events.Duration(time.Hour)}}}}
	m, _ := newTestManager(b, func() time.Time { return now }, nil, 10)
	m.deps.Wake = func() {}
	m.UseHistory(nil)
	hosts := make([]*events.HostHealth, 10_000)
	names := make([]string, len(hosts))
	for i := range hosts {
		names[i] = fmt.Sprintf("mac-%05d", i)
		h := orchtest.Health(names[i], "boot", 1, t0)
		hosts[i] = &h
	}
	for _, cold := range []bool{true, false} {
		b.Run(map[bool]string{true: "cold", false: "warm"}[cold], func(b *testing.B) {
			var ws []Want
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					m.plans.Clear()
				}
				ws = ws[:0]
				pv := m.View(&spec, nil, now)
				for i, h := range hosts {
					if w, ok := m.Want(names[i], h, &pv); ok {
						ws = append(ws, w)
					}
				}
			}
			if len(ws) != len(hosts) {
				b.Fatalf("Got(prunes) = %d, want %d", len(ws), len(hosts))
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/pass")
		})
	}
}
