package e2e

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestKillLeaderMidBuild: kill -9 of the leading orchestrator while its
// builds run. The follower takes over within 2 × TTL, adopts the builds
// (polls them; no webhook reaches the dead one), and the fleet converges
// with exactly one build per key. The killed replica comes back as a
// follower.
func TestKillLeaderMidBuild(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	a := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, a.leads)
	b := w.startOrch("b")
	waitFor(t, "b ready", 20*time.Second, func() bool { _, ok := b.readyz(); return ok })
	hosts := []string{w.startAgent("mac-0").host, w.startAgent("mac-1").host}

	// a creates one build per host; b follows the records.
	waitFor(t, "b sees both builds with numbers", 20*time.Second, func() bool {
		recs := b.builds()
		for _, h := range hosts {
			if recs[hostKey(h)].Number == 0 {
				return false
			}
		}
		return true
	})
	if r, _ := b.readyz(); r.IsLeader || r.Leader != "a" {
		t.Fatalf("Got(b /readyz) = %+v, want a follower naming a", r)
	}
	w.bk.Step() // scheduled → running: mid-build

	killed := time.Now()
	a.p.kill9()
	took := waitFor(t, "b leads", 4*leaseTTL, b.leads)
	t.Logf("FIGURE failover after kill -9 of the leader: %s (lease TTL %s)", took.Round(time.Millisecond), leaseTTL)
	if took > 2*leaseTTL {
		t.Errorf("Got(failover) = %s, want within 2 × TTL = %s", took, 2*leaseTTL)
	}
	waitFor(t, "b adopted the running builds", 10*time.Second, func() bool {
		recs := b.builds()
		for _, h := range hosts {
			if recs[hostKey(h)].State != events.BuildRunning {
				return false
			}
		}
		return true
	})
	a.restart() // the killed replica comes back, as a follower
	w.bk.Step() // running → passed; the images appear on the hosts
	waitFor(t, "every host ready", 20*time.Second, func() bool { return allReady(b, hosts...) })
	t.Logf("FIGURE kill -9 leader: fleet converged %s after the kill", time.Since(killed).Round(time.Millisecond))
	waitFor(t, "a back, following b", 20*time.Second, func() bool { r, ok := a.readyz(); return ok && !r.IsLeader && r.Leader == "b" })
	for _, h := range hosts {
		if r := b.builds()[hostKey(h)]; r.State != events.BuildPassed || r.Attempt != 1 {
			t.Errorf("Got(record %s) = %s attempt %d, want passed at attempt 1", r.Key, r.State, r.Attempt)
		}
	}
	if got := w.noDuplicates(); got != len(hosts) {
		t.Errorf("Got(builds created) = %d, want %d", got, len(hosts))
	}
	if v := b.hosts()[hosts[0]]; v.State != api.HostReady {
		t.Errorf("Got(host state) = %s, want ready", v.State)
	}
}
