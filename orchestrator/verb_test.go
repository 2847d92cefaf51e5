package orchestrator

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// TestVerbForDerivesEachPass is a third verb's whole side in the core: a
// dispatcher and a derive step registered with verbFor. Each pass asks it for
// the want of every non-stale host and dispatches only that pass's wants;
// the drain waits for its commands.
func TestVerbForDerivesEachPass(t *testing.T) {
	now := t0
	o := newTestOrchestrator(t, &fakeBK{}, Config{}, func() time.Time { return now })
	type echoWant struct{ host string }
	var mu sync.Mutex
	var sent []string
	d := hostcmd.New(hostcmd.Verb[echoWant, events.Reply]{
		Cap: 10, Now: o.now, Backoff: func(int) time.Duration { return time.Minute },
		Key:  func(w echoWant) string { return w.host },
		From: func(echoWant) hostcmd.Report { return hostcmd.Report{} },
		Send: func(_ context.Context, w echoWant) (events.Reply, error) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, w.host)
			return events.Reply{OK: true}, nil
		},
		Finish: func(echoWant, events.Reply, error) hostcmd.Outcome { return hostcmd.Outcome{} },
		Done:   func(echoWant, events.Reply, error, hostcmd.Outcome, time.Time) {},
	})
	// Every host whose report is not ready wants an echo.
	o.verbs = append(o.verbs, verbFor(d, func(host string, h *events.HostHealth) (echoWant, bool) {
		return echoWant{host}, !h.Ready
	}))
	for i, host := range []string{"mac-01", "mac-02", "mac-03"} {
		h := health(host, "b", 1, t0)
		h.Ready = i == 1
		seen := now
		if i == 2 {
			seen = t0.Add(-time.Hour) // stale
		}
		o.fleet.Ingest(o.subj.Health(host), encode(t, h), seen)
	}
	got := func() []string {
		o.pass(t.Context(), true)
		d.Wait()
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(sent)
		sent = nil
		return out
	}
	if s := got(); !slices.Equal(s, []string{"mac-01"}) {
		t.Fatalf("Got(echoes of the first pass) = %v, want [mac-01]: not the ready host, not the stale one", s)
	}
	h := health("mac-01", "b", 2, t0)
	h.Ready = true
	o.fleet.Ingest(o.subj.Health("mac-01"), encode(t, h), now)
	if s := got(); len(s) != 0 {
		t.Errorf("Got(echoes once mac-01 is ready) = %v, want none: a pass dispatches its own wants only", s)
	}
}
