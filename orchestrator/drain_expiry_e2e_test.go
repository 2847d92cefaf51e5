package orchestrator_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// publishForced publishes a report of host, ready for nothing, with the
// forced state f (nil: none), checked now by the test's clock.
func (h *harness) publishForced(host string, seq uint64, f *events.Forced) {
	h.t.Helper()
	hh := events.HostHealth{Host: host, Agent: "synthetic", BootID: "boot", Seq: seq, CheckedAt: h.clock.Now(),
		HeartbeatSeconds: 3600, Forced: f}
	b, err := events.Encode(events.TypeHostHealth, "/test/"+host, host, hh.MsgID(), h.clock.Now(), hh)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.nc.Publish(h.subj.Health(host), b); err != nil {
		h.t.Fatal(err)
	}
}

// fullPasses is how many full reconcile passes the orchestrator of reg made.
func fullPasses(t *testing.T, reg prometheus.Gatherer) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
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

// TestDrainExpiryAnnouncedOnce: a drain that ends at its TTL on the host
// (its next report, checked at or after the TTL, no longer carries it) is
// announced on fleet.drain as an expire, with the drain's who and why, by
// the leader only, though a follower saw the same reports; a drain
// resumed or replaced before its TTL, a drain without a TTL and a forced
// ready are not; a restart, which replays only each host's last report,
// announces nothing again.
func TestDrainExpiryAnnouncedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	h.start(cfg)
	fcfg := h.config(spec)
	fcfg.Instance = "follower"
	freg := prometheus.NewRegistry()
	f, err := h.w.NewOrchestrator(fcfg, orchestrator.WithClock(h.clock.Now), orchestrator.WithLeader(func() bool { return false }),
		orchestrator.WithRegistry(freg), orchestrator.WithLogger(testLogger(t, slog.LevelInfo).With("component", "follower")))
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(func() {
		if err := f.Stop(10 * time.Second); err != nil {
			t.Errorf("follower Run: %v", err)
		}
	})
	h.waitFor("follower ready", f.Ready)
	msgs := h.collectMsgs(h.subj.HostDrain())

	now := h.clock.Now().UTC()
	drain := func(by string, ttl time.Duration) *events.Forced {
		d := &events.Forced{State: events.ForcedNotReady, SetAt: now, SetBy: by, Reason: by + "'s disk swap"}
		if ttl > 0 {
			d.Until = now.Add(ttl)
		}
		return d
	}
	ready := drain("carol", time.Hour)
	ready.State = events.ForcedReady
	first := map[string]*events.Forced{
		"mac-01": drain("alice", time.Hour),   // expires
		"mac-02": drain("bob", 2*time.Hour),   // resumed before its TTL
		"mac-03": drain("dave", time.Hour),    // replaced before its TTL
		"mac-04": drain("erin", 0),            // no TTL: resumed, never expires
		"mac-05": ready,                       // not a drain
		"mac-06": drain("frank", time.Minute), // expires, then drained again
	}
	for host, d := range first {
		h.publishForced(host, 1, d)
	}
	both := func(seq uint64) bool {
		for host := range first {
			if s, _, ok := h.o.HostSeq(host); !ok || s != seq {
				return false
			}
			if s, _, ok := f.HostSeq(host); !ok || s != seq {
				return false
			}
		}
		return true
	}
	h.waitFor("both replicas have the drains", func() bool { return both(1) })
	h.settle(2)

	h.clock.Add(time.Hour) // alice's and frank's drains end on the hosts
	later := h.clock.Now().UTC()
	again := &events.Forced{State: events.ForcedNotReady, SetAt: later, SetBy: "grace", Reason: "again", Until: later.Add(time.Hour)}
	replaced := &events.Forced{State: events.ForcedNotReady, SetAt: now.Add(time.Minute), SetBy: "dave", Reason: "longer"}
	second := map[string]*events.Forced{"mac-01": nil, "mac-02": nil, "mac-03": replaced, "mac-04": nil, "mac-05": nil, "mac-06": again}
	// mac-02 was resumed and mac-03 re-drained before their TTL: their
	// reports are checked before it.
	h.clock.Add(-30 * time.Minute)
	h.publishForced("mac-02", 2, second["mac-02"])
	h.publishForced("mac-03", 2, second["mac-03"])
	h.clock.Add(30 * time.Minute)
	for _, host := range []string{"mac-01", "mac-04", "mac-05", "mac-06"} {
		h.publishForced(host, 2, second[host])
	}
	h.waitFor("both replicas have the later reports", func() bool { return both(2) })
	h.settle(2)
	target := fullPasses(t, freg) + 2
	h.waitFor("2 full passes of the follower", func() bool { f.Trigger(); return fullPasses(t, freg) >= target })
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	decode := func() map[string][]events.HostDrain {
		out := map[string][]events.HostDrain{}
		for _, m := range msgs() {
			d, err := events.DecodeEither[events.HostDrain](m.Data, events.TypeHostDrain)
			if err != nil {
				t.Fatalf("fleet.drain event: %v", err)
			}
			out[d.Host] = append(out[d.Host], d)
		}
		return out
	}
	got := decode()
	if len(got) != 2 || len(got["mac-01"]) != 1 || len(got["mac-06"]) != 1 {
		t.Fatalf("Got(fleet.drain events) = %+v, want one expire each of mac-01 and mac-06", got)
	}
	ev := got["mac-01"][0]
	if ev.Action != events.DrainActionExpire || ev.By != "alice" || ev.Reason != "alice's disk swap" ||
		!ev.Until.Equal(now.Add(time.Hour)) || ev.Was == nil || !ev.Was.SetAt.Equal(now) || ev.Validate() != nil {
		t.Errorf("Got(mac-01's event) = %+v, want alice's drain expired at +1h", ev)
	}
	if ev := got["mac-06"][0]; ev.Action != events.DrainActionExpire || ev.By != "frank" {
		t.Errorf("Got(mac-06's event) = %+v, want frank's drain expired", ev)
	}

	// A restart replays each host's last report: nothing ends again.
	h.stopO()
	h.start(cfg)
	h.settle(3)
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(msgs()); n != 2 {
		t.Errorf("Got(%d fleet.drain events after a restart), want the 2 from before", n)
	}
}
