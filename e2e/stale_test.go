package e2e

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestAgentOfflineIsStale: an agent that goes silent (SIGSTOP: the process
// is alive but says nothing, as a hung or partitioned host) is stale after
// three missed heartbeats (1 s each here; the unit tests drive the same
// rule on an injected clock over 10 minutes), gets no command while stale
// even when the fleet's image becomes pullable, and is fresh — and served
// — as soon as it speaks again.
func TestAgentOfflineIsStale(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	a := w.startOrch("a", "--registry", registry)
	waitFor(t, "a leads", 20*time.Second, a.leads)
	up, down := w.startAgent("mac-0"), w.startAgent("mac-1")
	waitFor(t, "registry build created", 20*time.Second, func() bool {
		return len(w.bk.Builds()) == 1 && len(a.hosts()) == 2
	})

	nc := natsConn(t, n.url())
	var commands atomic.Int32
	sub, err := nc.Subscribe("vmfleet.cmd."+down.host+".>", func(*nats.Msg) { commands.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	down.p.signal(syscall.SIGSTOP)
	stopped := time.Now()
	took := waitFor(t, "mac-1 stale", 20*time.Second, func() bool { return a.hosts()[down.host].State == api.HostStale })
	t.Logf("FIGURE agent silent: stale after %s (heartbeat 1 s, stale after 3)", took.Round(time.Millisecond))
	if took < 2*time.Second {
		t.Errorf("Got(stale after) = %s, want about three heartbeats", took)
	}

	// The image is pushed: the fresh host pulls it, the stale one gets nothing.
	w.bk.Step()
	w.bk.Step()
	waitFor(t, "mac-0 ready", 20*time.Second, func() bool { return allReady(a, up.host) })
	passes := a.fullPasses()
	waitFor(t, "8 more full passes", 20*time.Second, func() bool { return a.fullPasses() >= passes+8 })
	if n := commands.Load(); n != 0 {
		t.Errorf("Got(commands to the stale host) = %d, want 0", n)
	}
	if s := a.hosts()[down.host].State; s != api.HostStale {
		t.Errorf("Got(mac-1 state) = %s after %s silent, want stale", s, time.Since(stopped))
	}

	down.p.signal(syscall.SIGCONT)
	cont := time.Now()
	fresh := waitFor(t, "mac-1 fresh", 20*time.Second, func() bool { return a.hosts()[down.host].State != api.HostStale })
	waitFor(t, "mac-1 pulled and ready", 20*time.Second, func() bool { return allReady(a, down.host) })
	t.Logf("FIGURE agent back: fresh after %s, ready (pulled) after %s", fresh.Round(time.Millisecond), time.Since(cont).Round(time.Millisecond))
	if commands.Load() == 0 {
		t.Error("Got(commands once fresh) = 0, want the pull")
	}
	w.noDuplicates()
}
