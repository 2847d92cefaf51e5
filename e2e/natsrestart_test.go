package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// lastHealth is the sequence of the newest health event of host stored in
// the stream, and when NATS stored it.
func lastHealth(t *testing.T, js jetstream.JetStream, host string) (uint64, time.Time, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return 0, time.Time{}, false
	}
	subj, _ := events.NewSubjects("")
	m, err := s.GetLastMsgForSubject(ctx, subj.Health(host))
	if err != nil {
		return 0, time.Time{}, false
	}
	env, err := events.Decode(m.Data)
	if err != nil {
		return 0, time.Time{}, false
	}
	h, err := events.DecodeData[events.HostHealth](env, events.TypeHostHealth)
	if err != nil {
		return 0, time.Time{}, false
	}
	return h.Seq, m.Time, true
}

// TestNATSRestart: nats-server restarted on the same store while a build
// runs. Agents and the orchestrator reconnect; every host's latest state is
// back at the orchestrator within 10 s; the spec, the build record and the
// stream survive (a fresh orchestrator rebuilds the same fleet from it); the
// build completes with no duplicate.
func TestNATSRestart(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	a := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, a.leads)
	var hosts []string
	for i, name := range []string{"mac-0", "mac-1", "mac-2"} {
		ag := w.startAgent(name)
		if i != 1 {
			ag.state.Add(events.VM{Name: image14()})
		}
		hosts = append(hosts, ag.host)
	}
	waitFor(t, "every host known, mac-1's build created", 20*time.Second, func() bool {
		return len(a.hosts()) == 3 && a.builds()[hostKey(hosts[1])].Number != 0
	})
	before := a.builds()[hostKey(hosts[1])]

	n.restart()
	back := time.Now()
	n.waitJetStream(20 * time.Second)
	t.Logf("nats-server back %s after the restart began", time.Since(back).Round(time.Millisecond))
	js, _ := jetstream.New(natsConn(t, n.url()))
	took := waitFor(t, "every host's latest state at the orchestrator", 30*time.Second, func() bool {
		hs := a.hosts()
		for _, h := range hosts {
			seq, at, ok := lastHealth(t, js, h)
			if !ok || at.Before(back) || hs[h].Seq != seq {
				return false
			}
		}
		return true
	})
	t.Logf("FIGURE nats-server restart: every host's latest state back at the orchestrator %s after the restart", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("Got(state back after) = %s, want within 10 s", took)
	}
	waitFor(t, "a leads again", 4*leaseTTL, a.leads)
	if r := a.builds()[hostKey(hosts[1])]; r.Number != before.Number || r.Attempt != before.Attempt {
		t.Errorf("Got(record after restart) = #%d attempt %d, want #%d attempt %d", r.Number, r.Attempt, before.Number, before.Attempt)
	}
	if kv, err := js.KeyValue(t.Context(), events.BucketSpec); err != nil {
		t.Errorf("Got(spec bucket after restart) = %v", err)
	} else if _, err := kv.Get(t.Context(), events.SpecKey); err != nil {
		t.Errorf("Got(spec after restart) = %v, want the stored spec", err)
	}

	// A new replica rebuilds the fleet from the stream kept on disk.
	c := w.startOrch("c")
	waitFor(t, "c rebuilt the fleet", 20*time.Second, func() bool { return len(c.hosts()) == 3 && len(c.builds()) == 1 })

	w.bk.Step()
	w.bk.Step()
	waitFor(t, "every host ready", 20*time.Second, func() bool { return allReady(a, hosts...) && allReady(c, hosts...) })
	if got := w.noDuplicates(); got != 1 {
		t.Errorf("Got(builds created) = %d, want 1", got)
	}
}
