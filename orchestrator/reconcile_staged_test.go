package orchestrator

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// The staged spec's builds come after every current need of the pass, only
// for hosts that report the staged image missing against that revision,
// never for no_space.
func TestDeriveStagedQueuesAfterCurrent(t *testing.T) {
	im := testImages()
	o := newTestOrchestrator(t, &fakeBK{}, Config{Spec: events.Spec{Images: im}}, func() time.Time { return t0 })
	next := events.Spec{Images: im}
	next.Images.BootstrapVersion = "3.7"
	o.setNext(&next, 9)
	staged := func(reason events.Reason, rev uint64) func(*events.HostHealth) {
		return func(h *events.HostHealth) {
			h.NextRevision = rev
			for _, r := range next.Images.Releases {
				h.Staged = append(h.Staged, events.ReleaseStatus{Release: r, ExpectedImage: next.Images.ImageName(r), Reason: reason})
			}
		}
	}
	reports := []struct {
		name string
		mut  func(*events.HostHealth)
	}{
		{"mac-01", staged(events.ReasonImageMissing, 9)},
		{"mac-02", staged(events.ReasonNoSpace, 9)},
		{"mac-03", staged(events.ReasonImageMissing, 8)}, // an older staged spec
		{"mac-04", staged(events.ReasonReady, 9)},
	}
	v, sv := o.view(), o.stagedView()
	var w wants
	w.reset()
	for _, hh := range reports {
		h := health(hh.name, "b", 1, t0)
		h.Releases[1].Ready, h.Releases[1].Reason = false, events.ReasonImageMissing // 14 missing on the current spec too
		hh.mut(&h)
		hs := &hosts.State{Health: &h, LastSeen: t0}
		o.deriveHost(hh.name, hs, v, o.now(), &w)
		o.deriveStaged(hh.name, hs, sv, o.now(), &w)
	}
	w.queue()
	var got []string
	for _, b := range w.builds {
		got = append(got, b.Key)
	}
	want := []string{
		builds.RecordKey(im.ImageName("14"), "mac-01"), builds.RecordKey(im.ImageName("14"), "mac-02"),
		builds.RecordKey(im.ImageName("14"), "mac-03"), builds.RecordKey(im.ImageName("14"), "mac-04"),
	}
	for _, r := range next.Images.Releases {
		want = append(want, builds.RecordKey(next.Images.ImageName(r), "mac-01"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(builds) diff (-want +got):\n%s", diff)
	}
}

func TestRolloutCounts(t *testing.T) {
	im := testImages()
	next := events.Spec{Images: im, AutoPromote: 0.5, Revision: 4}
	next.Images.BootstrapVersion = "3.7"
	c := newRolloutCounter(&next)
	for i, reason := range []events.Reason{events.ReasonReady, events.ReasonNoSpace, events.ReasonImageMissing} {
		h := health("mac", "b", uint64(i), t0)
		h.NextRevision = 4
		for _, r := range next.Images.Releases {
			h.Staged = append(h.Staged, events.ReleaseStatus{Release: r, ExpectedImage: next.Images.ImageName(r), Reason: reason, Ready: reason == events.ReasonReady})
		}
		c.add(&h)
	}
	if c.r.Hosts != 3 || c.r.Ready != 1 {
		t.Errorf("Got(rollout) = %d of %d ready, want 1 of 3", c.r.Ready, c.r.Hosts)
	}
	for _, sr := range c.r.Releases {
		if sr.Ready != 1 || sr.NoSpace != 1 || sr.Total != 3 {
			t.Errorf("Got(release %s) = %+v, want 1 ready, 1 no space, 3 hosts", sr.Release, sr)
		}
	}
	if newRolloutCounter(nil).finish(nil) != nil {
		t.Errorf("Got(rollout without a staged spec) != nil, want nil")
	}
}

// The pass's prune plans keep the staged spec's images (staged_image), so
// no prune is sent for an image a rollout is distributing.
func TestPrunePlanKeepsStagedImages(t *testing.T) {
	im := testImages()
	o := newTestOrchestrator(t, &fakeBK{}, Config{Spec: events.Spec{Images: im}}, func() time.Time { return t0 })
	next := events.Spec{Images: im}
	next.Images.BootstrapVersion = "3.7"
	img := next.Images.ImageName("13")
	h := health("mac-01", "b", 1, t0)
	h.VMs = append(h.VMs, events.VM{Name: img, Source: "local", State: events.VMStopped, SizeGB: 40})
	verdict := func() cleanup.Decision {
		pv := o.pruneView(t0)
		res := cleanup.Plan(prunes.Input(&h, &pv))
		for _, d := range append(res.Keep, res.Prune...) {
			if d.VM == img {
				return d
			}
		}
		t.Fatalf("Got(plan) without %s", img)
		return cleanup.Decision{}
	}
	if d := verdict(); d.Rule == cleanup.RuleStagedImage {
		t.Fatalf("Got(verdict without a rollout) = %+v, want no staged_image rule", d)
	}
	o.setNext(&next, 3)
	if d := verdict(); d.Rule != cleanup.RuleStagedImage {
		t.Errorf("Got(verdict during the rollout) = %+v, want kept by staged_image", d)
	}
}
