package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// TestClusterNodeKilled: a three-node NATS cluster on loopback, the stream
// and buckets at R3. kill -9 of the node leading the VMFLEET stream: the
// fleet keeps working — running builds finish and their hosts become ready,
// a host that joins afterwards gets its build — with no duplicate.
func TestClusterNodeKilled(t *testing.T) {
	nodes := startCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	w := newWorld(t, urls)
	a := w.startOrch("a", "--replicas", "3")
	waitFor(t, "a leads", 30*time.Second, a.leads)
	b := w.startOrch("b", "--replicas", "3")
	waitFor(t, "b ready", 30*time.Second, func() bool { _, ok := b.readyz(); return ok })
	hosts := []string{w.startAgent("mac-0").host, w.startAgent("mac-1").host}
	waitFor(t, "both builds created", 30*time.Second, func() bool { return len(w.bk.Builds()) == 2 })

	js, _ := jetstream.New(natsConn(t, urls...))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, bucket := range []string{"KV_" + events.BucketLeader, "KV_" + events.BucketBuilds, "KV_" + events.BucketSpec, events.StreamName} {
		s, err := js.Stream(ctx, bucket)
		if err != nil {
			t.Fatalf("stream %s: %v", bucket, err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("Got(%s replicas) = %d, want 3", bucket, r)
		}
	}
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	var victim *natsNode
	for _, n := range nodes {
		if n.name == leader {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("stream leader %q is none of the nodes", leader)
	}
	killed := time.Now()
	victim.p.kill9()
	t.Logf("killed %s, the VMFLEET stream's leader", victim.name)

	w.bk.Step()
	w.bk.Step()
	waitFor(t, "running builds' hosts ready", 60*time.Second, func() bool { return allReady(a, hosts...) || allReady(b, hosts...) })
	late := w.startAgent("mac-2").host
	hosts = append(hosts, late)
	waitFor(t, "the late host's build", 60*time.Second, func() bool { return len(w.bk.Builds()) == 3 })
	w.bk.Step()
	w.bk.Step()
	var leaderO *orchProc
	waitFor(t, "every host ready", 60*time.Second, func() bool {
		for _, o := range []*orchProc{a, b} {
			if o.leads() && allReady(o, hosts...) {
				leaderO = o
				return true
			}
		}
		return false
	})
	t.Logf("FIGURE cluster node killed: %s leads; three hosts ready %s after the kill", leaderO.id, time.Since(killed).Round(time.Millisecond))
	if got := w.noDuplicates(); got != 3 {
		t.Errorf("Got(builds created) = %d, want 3", got)
	}
}
