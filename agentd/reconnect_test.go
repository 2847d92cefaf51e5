package agentd

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
