package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// passAndWait runs a full pass and waits for the operations it started.
func passAndWait(o *Orchestrator) {
	o.pass(context.Background(), true)
	o.builds.Wait()
}

func TestBuildCaps(t *testing.T) {
	tests := []struct {
		name            string
		maxBuilds       int
		maxPerHost      int
		hosts           int
		missing         []string // releases each host misses
		wantFirst       int
		wantAfterFinish int
	}{
		{name: "fleet-wide cap", maxBuilds: 2, maxPerHost: 1, hosts: 5, missing: []string{"14"}, wantFirst: 2, wantAfterFinish: 3},
		{name: "per-host cap", maxBuilds: 10, maxPerHost: 1, hosts: 1, missing: []string{"13", "14"}, wantFirst: 1, wantAfterFinish: 2},
		{name: "per-host cap of 2", maxBuilds: 10, maxPerHost: 2, hosts: 1, missing: []string{"13", "14"}, wantFirst: 2, wantAfterFinish: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bk := &fakeBK{}
			o := newTestOrchestrator(t, bk, Config{Builds: builds.Config{MaxBuilds: tt.maxBuilds, MaxBuildsPerHost: tt.maxPerHost}}, func() time.Time { return t0 })
			for i := range tt.hosts {
				h := health(hostName(i), "b", 1, t0)
				for j := range h.Releases {
					h.Releases[j].Ready, h.Releases[j].Reason = true, events.ReasonReady
					for _, r := range tt.missing {
						if h.Releases[j].Release == r {
							h.Releases[j].Ready, h.Releases[j].Reason = false, events.ReasonImageMissing
						}
					}
				}
				o.fleet.Ingest(o.subj.Health(h.Host), encode(t, h), t0)
			}
			passAndWait(o)
			passAndWait(o)
			if bk.Creates() != tt.wantFirst {
				t.Fatalf("Got(creates) = %d, want %d", bk.Creates(), tt.wantFirst)
			}
			first := bk.Builds()[0]
			first.State, first.RawState, first.FinishedAt = events.BuildPassed, "passed", t0
			o.builds.ApplyWebhook(context.Background(), first)
			passAndWait(o)
			passAndWait(o)
			if bk.Creates() != tt.wantAfterFinish {
				t.Errorf("Got(creates after one passed) = %d, want %d", bk.Creates(), tt.wantAfterFinish)
			}
		})
	}
}

func TestFollowerDoesNotAct(t *testing.T) {
	bk := &fakeBK{}
	o := newTestOrchestrator(t, bk, Config{}, func() time.Time { return t0 })
	o.opts.isLeader = func() bool { return false }
	h := health("mac-01", "b", 1, t0)
	o.fleet.Ingest(o.subj.Health(h.Host), encode(t, h), t0)
	passAndWait(o)
	if bk.Creates() != 0 {
		t.Errorf("Got(creates by a follower) = %d, want 0", bk.Creates())
	}
	if _, err := o.Retry(context.Background(), "k"); err != ErrNotLeader {
		t.Errorf("Got(Retry on a follower) = %v, want ErrNotLeader", err)
	}
	if got := len(o.Hosts()); got != 1 {
		t.Errorf("Got(hosts served by a follower) = %d, want 1", got)
	}
}
