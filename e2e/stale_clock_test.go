package e2e

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestHostOfflineTenMinutesOnTestClock is the stale rule at its real scale,
// in one process: a host that last reported (heartbeat 60 s, image missing)
// ten minutes ago on the orchestrator's clock is stale, gets no build and no
// command when the orchestrator starts acting, and is served as soon as it
// reports again.
func TestHostOfflineTenMinutesOnTestClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	w, err := simworld.New(t.Context(), simworld.WithLeaderTTL(time.Minute),
		simworld.WithToken(bkToken), simworld.WithPipeline(bkOrg, bkPipeline), simworld.WithBuildkite(buildkitefake.WithClock(clock.Now)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	nc, subj, bk := w.Conn, w.Subjects, w.Buildkite
	spec := events.Spec{Images: events.DefaultImageSpec()}
	var leading atomic.Bool
	reg := prometheus.NewRegistry()
	o, err := w.NewOrchestrator(orchestrator.Config{Spec: spec, Tick: 20 * time.Millisecond},
		orchestrator.WithClock(clock.Now), orchestrator.WithLeader(leading.Load), orchestrator.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	t.Cleanup(func() { _ = o.Stop(time.Minute) })

	var commands atomic.Int32
	sub, err := nc.Subscribe("vmfleet.cmd.>", func(*nats.Msg) { commands.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	report := func(seq uint64) {
		h := events.HostHealth{Host: "mac-1", Agent: "test", BootID: "boot", Seq: seq, CheckedAt: clock.Now(),
			HeartbeatSeconds: 60, Releases: []events.ReleaseStatus{{Release: "14", ExpectedImage: image14(),
				Reason: events.ReasonImageMissing, Bun: spec.Images.BunVersion, Bootstrap: spec.Images.BootstrapVersion}}}
		b, err := events.Encode(events.TypeHostHealth, "/test/mac-1", "mac-1", h.MsgID(), clock.Now(), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subj.Health("mac-1"), b); err != nil {
			t.Fatal(err)
		}
	}
	report(1)
	waitFor(t, "host known", 10*time.Second, func() bool { v, ok := o.Host("mac-1"); return ok && v.Seq == 1 })

	clock.Add(10 * time.Minute) // silent for ten minutes: 10 heartbeats missed
	// A pass reads the clock when it starts and asks about leadership when
	// it acts: one that read the clock before the jump would find the host
	// fresh and, led by then, build for it. Passes run one at a time, so
	// once a full pass completes after the jump, none that read the old
	// clock is left, and every pass that acts sees the host stale.
	jumped := fullPassesIn(reg)
	waitFor(t, "a pass after the clock jump", 10*time.Second, func() bool { o.Trigger(); return fullPassesIn(reg) > jumped })
	leading.Store(true) // from now on it acts
	waitFor(t, "host stale", 10*time.Second, func() bool { v, _ := o.Host("mac-1"); o.Trigger(); return v.State == orchestrator.HostStale })
	// Leave the orchestrator ten full passes to act on the stale host.
	passes := fullPassesIn(reg)
	waitFor(t, "10 full passes", 10*time.Second, func() bool { o.Trigger(); return fullPassesIn(reg) >= passes+10 })
	if n, b := commands.Load(), len(bk.Builds()); n != 0 || b != 0 {
		t.Errorf("Got(commands, builds for the stale host) = %d, %d, want 0, 0", n, b)
	}

	report(2) // back
	waitFor(t, "host fresh", 10*time.Second, func() bool { v, _ := o.Host("mac-1"); return v.State == orchestrator.HostNotReady })
	waitFor(t, "its build created", 10*time.Second, func() bool { return len(bk.Builds()) == 1 })
}

// fullPassesIn is how many full reconcile passes the orchestrator whose
// metrics are in reg has made.
func fullPassesIn(reg *prometheus.Registry) uint64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "vmfleet_orchestrator_reconcile_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "full" {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}
