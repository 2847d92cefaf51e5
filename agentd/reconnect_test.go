package agentd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// hooksOn is how many agents' reconnect hooks nc calls.
func hooksOn(nc *nats.Conn) int {
	reconnectHooks.Lock()
	defer reconnectHooks.Unlock()
	if f := reconnectHooks.byConn[nc]; f != nil {
		return len(f.hooks)
	}
	return 0
}

// Agents sharing one connection (a simulated fleet) each republish their
// latest health after a reconnect; an agent that stopped no longer does.
func TestAgentsSharingAConnectionRepublishAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := bustest.Server(t, dir)
	nc := agentConn(t, s, 700*time.Millisecond)
	hosts := []string{"mac-01", "mac-02", "mac-03"}
	agents := make([]*Agent, len(hosts))
	stops := make([]func(), len(hosts))
	firsts := make([]uint64, len(hosts))
	watch := bustest.Conn(t, s)
	for i, h := range hosts {
		cfg := slowConfig(t)
		cfg.Hostname = h
		agents[i] = newAgent(t, cfg, tarttest.NewFake(""), WithConn(nc))
		sub := subscribeHealth(t, watch, h)
		stops[i] = runAgent(t, agents[i])
		first, _ := sub.next(5*time.Second, "a first event of "+h, anyHealth)
		firsts[i] = first.Seq
	}
	if got := hooksOn(nc); got != 3 {
		t.Fatalf("Got(hooks on the shared connection) = %d, want 3", got)
	}
	stops[2]()
	if got := hooksOn(nc); got != 2 {
		t.Fatalf("Got(hooks after one agent stopped) = %d, want 2", got)
	}
	// The agents reconnect slowly, so the fresh subscribers below are
	// there first.
	s2 := bustest.Restart(t, s, dir)
	watch2 := bustest.Conn(t, s2)
	subs := []*healthSub{subscribeHealth(t, watch2, hosts[0]), subscribeHealth(t, watch2, hosts[1])}
	for i, h := range hosts[:2] {
		got, _ := subs[i].next(10*time.Second, "the republished event of "+h, anyHealth)
		if got.Seq != firsts[i] {
			t.Errorf("Got(republished %s) = seq %d, want the latest state again (seq %d)", h, got.Seq, firsts[i])
		}
	}
	stops[0]()
	stops[1]()
	if got := hooksOn(nc); got != 0 {
		t.Errorf("Got(hooks after every agent stopped) = %d, want 0", got)
	}
}

// The agent looks the spec bucket up once (a JetStream API request) and
// reads through the handle after that, and looks it up again once the
// bucket was deleted and made again.
func TestSpecReadsLookTheBucketUpOnce(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	watch := bustest.Conn(t, s)
	infos := make(chan *nats.Msg, 64)
	sub, err := watch.ChanSubscribe("$JS.API.STREAM.INFO.KV_"+events.BucketSpec, infos)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx := t.Context()
	js, _ := jetstream.New(watch)
	put := func(release string) {
		t.Helper()
		b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Spec.Put(ctx, events.SpecKey, mustJSON(t, events.Spec{Images: events.ImageSpec{Releases: []string{release}, BunVersion: "1.3.0", BootstrapVersion: "4.0"}})); err != nil {
			t.Fatal(err)
		}
	}
	put("15")
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	for len(infos) > 0 { // the set-up's own lookups
		<-infos
	}
	a := newAgent(t, slowConfig(t), tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)))
	ajs, _ := jetstream.New(a.nc)
	for range 5 {
		if e, err := a.readSpec(ctx, ajs, events.SpecKey); err != nil || e == nil {
			t.Fatalf("Got(readSpec) = %v, %v, want the spec", e, err)
		}
	}
	// A read that times out keeps the handle: the bucket is as it was,
	// and a slow server is not sent a lookup on top.
	late, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if e, err := a.readSpec(late, ajs, events.SpecKey); err == nil {
		t.Fatalf("Got(readSpec past its deadline) = %v, nil, want an error", e)
	}
	if e, err := a.readSpec(ctx, ajs, events.SpecKey); err != nil || e == nil {
		t.Fatalf("Got(readSpec after a timeout) = %v, %v, want the spec", e, err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(infos); got != 1 {
		t.Errorf("Got(bucket lookups for 6 reads and a timeout) = %d, want 1", got)
	}
	// The bucket deleted: the read fails and the handle is dropped; once
	// the bucket is made again, the next read looks it up again.
	if err := js.DeleteKeyValue(ctx, events.BucketSpec); err != nil {
		t.Fatal(err)
	}
	if e, err := a.readSpec(ctx, ajs, events.SpecKey); err == nil {
		t.Fatalf("Got(readSpec of a deleted bucket) = %v, nil, want an error", e)
	}
	put("16")
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	for len(infos) > 0 {
		<-infos
	}
	e, err := a.readSpec(ctx, ajs, events.SpecKey)
	if err != nil || e == nil || !strings.Contains(string(e.Value()), `"16"`) {
		t.Fatalf("Got(readSpec after the bucket was made again) = %v, %v, want release 16", e, err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(infos); got != 1 {
		t.Errorf("Got(bucket lookups after it was made again) = %d, want 1", got)
	}
}
