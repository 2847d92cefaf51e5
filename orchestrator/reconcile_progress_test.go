package orchestrator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

// The readiness of a staged rollout says what it changes, how many hosts
// have no room, the auto-promote's threshold in hosts and an ETA from the
// rate hosts come to hold the staged images, on the orchestrator's clock.
func TestRolloutProgressInReadiness(t *testing.T) {
	im := testImages()
	clock := orchtest.NewClock(t0)
	o := newTestOrchestrator(t, &fakeBK{}, Config{Spec: events.Spec{Images: im}}, clock.Now)
	t.Cleanup(o.builds.Wait)
	next := events.Spec{Images: im, AutoPromote: 0.9, UpdatedAt: t0.Add(-time.Hour)}
	next.Images.BootstrapVersion = "3.7"
	o.setNext(&next, 9)
	seq := uint64(0)
	report := func(ready int) *events.Rollout {
		t.Helper()
		seq++
		for i := range 10 {
			h := health(fmt.Sprintf("mac-%02d", i), "b", seq, clock.Now())
			h.NextRevision = 9
			reason := events.ReasonImageMissing
			switch {
			case i < ready:
				reason = events.ReasonReady
			case i == 9:
				reason = events.ReasonNoSpace
			}
			for _, r := range next.Images.Releases {
				h.Staged = append(h.Staged, events.ReleaseStatus{Release: r, ExpectedImage: next.Images.ImageName(r),
					Reason: reason, Ready: reason == events.ReasonReady})
			}
			o.fleet.Ingest(o.subj.Health(h.Host), encode(t, h), clock.Now())
		}
		o.pass(context.Background(), true)
		r := o.Readiness()
		if r == nil || r.Rollout == nil {
			t.Fatalf("Got(readiness) = %+v, want a rollout", r)
		}
		return r.Rollout
	}
	ro := report(0)
	if want := []events.SpecFieldChange{{Field: "bootstrap", From: "3.6", To: "3.7"}}; !cmp.Equal(want, ro.Changes) {
		t.Errorf("Got(changes) = %+v, want %+v", ro.Changes, want)
	}
	if ro.NoSpace != 1 || ro.AutoPromoteHosts != 9 || !ro.StagedAt.Equal(next.UpdatedAt) {
		t.Errorf("Got(rollout) = no space %d, auto-promote hosts %d, staged at %s; want 1, 9 (90%% of 10), %s",
			ro.NoSpace, ro.AutoPromoteHosts, ro.StagedAt, next.UpdatedAt)
	}
	if ro.ETA == nil || ro.ETA.Basis != events.ETAUnknown || ro.ETA.Target != 9 {
		t.Errorf("Got(ETA before any host holds the images, no build timed yet) = %+v, want unknown, target 9", ro.ETA)
	}
	// The host view names the host without room.
	for _, v := range o.Hosts() {
		st, _ := (&events.HostHealth{Staged: v.Staged}).StagedStatus("14")
		if noRoom := st.Reason == events.ReasonNoSpace; noRoom != (v.Host == "mac-09") {
			t.Errorf("Got(%s's staged 14) = %+v, want no_space only on mac-09", v.Host, v.Staged)
		}
	}
	clock.Add(time.Minute)
	report(2)
	clock.Add(time.Minute)
	ro = report(4)
	// 4 hosts in 2 minutes; 5 to go: 2m30s.
	want := &events.RolloutETA{Basis: events.ETARate, Target: 9, At: clock.Now().Add(150 * time.Second), HostsPerHour: 120}
	if ro.ETA != nil {
		ro.ETA.Why = ""
	}
	if diff := cmp.Diff(want, ro.ETA); diff != "" {
		t.Errorf("Got(ETA) diff (-want +got):\n%s", diff)
	}
}
