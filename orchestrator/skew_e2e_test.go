package orchestrator_test

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// TestForgedHealthLocksNoHostOut runs over a real nats-server: a health event
// dated a day ahead with a huge sequence number, then one with a huge
// sequence number in a forged boot dated ahead within the allowed skew; the
// real agent's later reports, and those of its next start, are taken.
func TestForgedHealthLocksNoHostOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	ag := h.addAgents(1, "mac", spec.Images)[0]
	var boot string
	h.waitFor("first report", func() bool { _, b, ok := h.o.HostSeq(ag.host); boot = b; return ok })

	forge := func(boot string, seq uint64, at time.Time) {
		t.Helper()
		hh := events.HostHealth{Host: ag.host, Agent: "forged", BootID: boot, Seq: seq, CheckedAt: at, HeartbeatSeconds: 3600}
		b, err := events.Encode(events.TypeHostHealth, "/forged/"+ag.host, ag.host, hh.MsgID(), at, hh)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.nc.Publish(h.subj.Health(ag.host), b); err != nil {
			t.Fatal(err)
		}
	}
	forge(boot, 1<<62, time.Now().Add(24*time.Hour))
	h.waitFor("the forged event rejected", func() bool {
		return h.metric("vmfleet_orchestrator_events_rejected_total", "reason", "clock_skew") == 1
	})
	honest, err := ag.a.CheckAndPublish(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The agent's own loop may report again meanwhile (the build it now
	// needs): its report or a later one is taken, never the forged sequence.
	h.waitFor("the agent's next report taken", func() bool {
		seq, b, _ := h.o.HostSeq(ag.host)
		return b == boot && seq >= honest.Seq && seq < 1<<62
	})

	forge("forged-boot", 1<<62, time.Now().Add(2*time.Minute))
	h.waitFor("the forged boot taken (within the skew)", func() bool { _, b, _ := h.o.HostSeq(ag.host); return b == "forged-boot" })
	next := h.addAgents(1, "mac", spec.Images)[0] // the agent started again: a new boot
	if next.host != ag.host {
		t.Fatalf("Got(host) = %q, want %q", next.host, ag.host)
	}
	h.waitFor("the restarted agent's report taken", func() bool {
		_, b, _ := h.o.HostSeq(ag.host)
		return b != "forged-boot" && b != boot
	})
	if v, ok := h.o.Host(ag.host); !ok || v.State == orchestrator.HostStale {
		t.Errorf("Got(host view) = %+v, want fresh", v)
	}
	// No count of stale_seq rejections here: the first agent still runs in
	// this test (unlike a real restart), and its reports of the old boot,
	// checked before the forged boot's, are rightly refused as stale_seq.
}
