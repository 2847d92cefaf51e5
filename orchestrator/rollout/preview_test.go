package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

var previewNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// withImages returns testImages (13 and 14, bun 1.2.16, bootstrap 3.6) changed by fn.
func withImages(fn func(*events.ImageSpec)) events.ImageSpec {
	im := testImages()
	if fn != nil {
		fn(&im)
	}
	return im
}

// previewHost is a host holding a local VM of each image named (40 GB
// each), reporting against cur: each release of cur ready when it holds
// its image. staged, when set, is reported ready for each image it holds.
func previewHost(name string, cur events.ImageSpec, staged *events.Spec, holds ...string) *events.HostHealth {
	h := &events.HostHealth{Host: name, BootID: "b", CheckedAt: previewNow, HeartbeatSeconds: 60}
	has := map[string]bool{}
	for _, n := range holds {
		has[n] = true
		h.VMs = append(h.VMs, events.VM{Name: n, Source: "local", State: events.VMStopped, SizeGB: 40})
	}
	h.Ready = true
	for _, r := range cur.Releases {
		st := events.ReleaseStatus{Release: r, ExpectedImage: cur.ImageName(r), Reason: events.ReasonImageMissing}
		if has[st.ExpectedImage] {
			st.Ready, st.Reason = true, events.ReasonReady
		}
		h.Ready = h.Ready && st.Ready
		h.Releases = append(h.Releases, st)
	}
	if staged != nil {
		h.NextRevision = staged.Revision
		for _, r := range staged.Images.Releases {
			st := events.ReleaseStatus{Release: r, ExpectedImage: staged.Images.ImageName(r), Reason: events.ReasonImageMissing}
			if has[st.ExpectedImage] {
				st.Ready, st.Reason = true, events.ReasonReady
			}
			h.Staged = append(h.Staged, st)
		}
	}
	return h
}

// fleetOf is n hosts mac-00.. each holding the images of the specs given.
func fleetOf(n int, cur events.ImageSpec, staged *events.Spec, hold ...events.ImageSpec) []*events.HostHealth {
	var names []string
	for _, im := range hold {
		for _, r := range im.Releases {
			names = append(names, im.ImageName(r))
		}
	}
	hosts := make([]*events.HostHealth, n)
	for i := range hosts {
		hosts[i] = previewHost(fmt.Sprintf("mac-%02d", i), cur, staged, names...)
	}
	return hosts
}

func TestPreview(t *testing.T) {
	cur := testImages()
	boot37 := withImages(func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" })
	only14 := withImages(func(im *events.ImageSpec) { im.Releases = []string{"14"} })
	with15 := withImages(func(im *events.ImageSpec) { im.Releases = []string{"13", "14", "15"} })
	reg := func(im events.ImageSpec) events.ImageSpec {
		im.Registry = "ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"
		return im
	}
	staged := &events.Spec{Images: boot37, Revision: 7}
	spec := func(im events.ImageSpec) events.Spec { return events.Spec{Images: im} }
	live := func(im events.ImageSpec, rel, host string) builds.Record {
		w := wantOf(im, rel, host)
		return builds.Record{Key: w.Key, Image: w.Image, Release: rel, Host: w.Host, State: events.BuildRunning}
	}
	pushed := func(im events.ImageSpec, rel string) builds.Record {
		r := live(im, rel, "")
		r.State, r.Digest = events.BuildPassed, builds.Digest(wantOf(im, rel, ""))
		return r
	}
	tests := []struct {
		name string
		f    Fleet
		c    Change
		want Impact // Action, From, To, Hosts, ConfirmNotReadyFraction and PrunableAfter are filled in
	}{
		{
			name: "removing a release needs confirm",
			f:    Fleet{Current: spec(cur), Hosts: fleetOf(4, cur, nil, cur), Builds: []builds.Record{live(cur, "13", "mac-09")}},
			c:    Change{Action: ActionSet, To: spec(only14)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "14", Change: ReleaseUnchanged, FromImage: cur.ImageName("14"), ToImage: cur.ImageName("14"), ReadyAfter: 4},
					{Release: "13", Change: ReleaseRemoved, FromImage: cur.ImageName("13"), NotReady: 4, BuildsCancel: 1, PruneVMs: 4, PruneGB: 160},
				},
				Total:            ImpactTotal{NotReady: 4, BuildsCancel: 1, PruneVMs: 4, PruneGB: 160},
				Removed:          []string{"13"},
				CancelBuilds:     []string{builds.RecordKey(cur.ImageName("13"), "mac-09")},
				NotReadyFraction: 1, ConfirmNeeded: true,
				Why: []string{"removes macOS 13", "makes 4 of 4 hosts (100%) not ready, more than spec.confirm_not_ready_fraction (10%)"},
			},
		},
		{
			name: "a bootstrap bump on a fleet all ready makes every host not ready",
			f:    Fleet{Current: spec(cur), Hosts: fleetOf(3, cur, nil, cur)},
			c:    Change{Action: ActionSet, To: spec(boot37)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseChanged, FromImage: cur.ImageName("13"), ToImage: boot37.ImageName("13"), NotReady: 3, Missing: 3, BuildsStart: 3, PruneVMs: 3, PruneGB: 120},
					{Release: "14", Change: ReleaseChanged, FromImage: cur.ImageName("14"), ToImage: boot37.ImageName("14"), NotReady: 3, Missing: 3, BuildsStart: 3, PruneVMs: 3, PruneGB: 120},
				},
				Total:            ImpactTotal{NotReady: 3, BuildsStart: 6, PruneVMs: 6, PruneGB: 240},
				NotReadyFraction: 1, ConfirmNeeded: true,
				Why: []string{"makes 3 of 3 hosts (100%) not ready, more than spec.confirm_not_ready_fraction (10%)"},
			},
		},
		{
			name: "registry mode: one build per image, or pulls once pushed; a live build starts nothing",
			f: Fleet{Current: spec(reg(cur)), Hosts: fleetOf(2, reg(cur), nil, cur),
				Builds: []builds.Record{pushed(reg(boot37), "13"), live(reg(boot37), "14", "")}, ConfirmNotReadyFraction: 1},
			c: Change{Action: ActionSet, To: spec(reg(boot37))},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseChanged, FromImage: cur.ImageName("13"), ToImage: boot37.ImageName("13"), NotReady: 2, Missing: 2, Pulls: 2, PruneVMs: 2, PruneGB: 80},
					{Release: "14", Change: ReleaseChanged, FromImage: cur.ImageName("14"), ToImage: boot37.ImageName("14"), NotReady: 2, Missing: 2, PruneVMs: 2, PruneGB: 80},
				},
				Total:            ImpactTotal{NotReady: 2, Pulls: 2, PruneVMs: 4, PruneGB: 160},
				NotReadyFraction: 1,
			},
		},
		{
			name: "adding a release needs no confirm",
			f:    Fleet{Current: spec(cur), Hosts: fleetOf(5, cur, nil, cur)},
			c:    Change{Action: ActionSet, To: spec(with15)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseUnchanged, FromImage: cur.ImageName("13"), ToImage: cur.ImageName("13"), ReadyAfter: 5},
					{Release: "14", Change: ReleaseUnchanged, FromImage: cur.ImageName("14"), ToImage: cur.ImageName("14"), ReadyAfter: 5},
					{Release: "15", Change: ReleaseAdded, ToImage: with15.ImageName("15"), Missing: 5, BuildsStart: 5},
				},
				Total: ImpactTotal{BuildsStart: 5},
			},
		},
		{
			name: "removing a release no host serves (undoing a typo) needs no confirm",
			f:    Fleet{Current: spec(with15), Hosts: fleetOf(2, with15, nil, cur)},
			c:    Change{Action: ActionRollback, To: spec(cur)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseUnchanged, FromImage: cur.ImageName("13"), ToImage: cur.ImageName("13"), ReadyAfter: 2},
					{Release: "14", Change: ReleaseUnchanged, FromImage: cur.ImageName("14"), ToImage: cur.ImageName("14"), ReadyAfter: 2},
					{Release: "15", Change: ReleaseRemoved, FromImage: with15.ImageName("15")},
				},
				Removed: []string{"15"},
			},
		},
		{
			name: "a promote where every host holds the staged images: none not ready",
			f: Fleet{Current: spec(cur), Next: staged, Hosts: fleetOf(3, cur, staged, cur, boot37),
				Builds: []builds.Record{live(cur, "14", "mac-07"), live(boot37, "14", "mac-08")}},
			c: Change{Action: ActionPromote, To: *staged},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseChanged, FromImage: cur.ImageName("13"), ToImage: boot37.ImageName("13"), ReadyAfter: 3, PruneVMs: 3, PruneGB: 120},
					{Release: "14", Change: ReleaseChanged, FromImage: cur.ImageName("14"), ToImage: boot37.ImageName("14"), ReadyAfter: 3, BuildsCancel: 1, PruneVMs: 3, PruneGB: 120},
				},
				Total:        ImpactTotal{BuildsCancel: 1, PruneVMs: 6, PruneGB: 240},
				CancelBuilds: []string{builds.RecordKey(cur.ImageName("14"), "mac-07")},
			},
		},
		{
			name: "a bump on a fleet mostly not ready stays under the threshold; forced ready hosts stay ready",
			f: func() Fleet {
				hosts := fleetOf(20, cur, nil) // none holds an image
				hosts[0] = previewHost("mac-00", cur, nil, cur.ImageName("13"), cur.ImageName("14"))
				hosts[1] = previewHost("mac-01", cur, nil, cur.ImageName("13"), cur.ImageName("14"))
				hosts[1].Forced = &events.Forced{State: events.ForcedReady, SetAt: previewNow}
				return Fleet{Current: spec(cur), Hosts: hosts}
			}(),
			c: Change{Action: ActionSet, To: spec(boot37)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseChanged, FromImage: cur.ImageName("13"), ToImage: boot37.ImageName("13"), NotReady: 1, ReadyAfter: 1, Missing: 20, BuildsStart: 20, PruneVMs: 2, PruneGB: 80},
					{Release: "14", Change: ReleaseChanged, FromImage: cur.ImageName("14"), ToImage: boot37.ImageName("14"), NotReady: 1, ReadyAfter: 1, Missing: 20, BuildsStart: 20, PruneVMs: 2, PruneGB: 80},
				},
				Total:            ImpactTotal{NotReady: 1, BuildsStart: 40, PruneVMs: 4, PruneGB: 160},
				NotReadyFraction: 0.05,
			},
		},
		{
			name: "a rollback to images in their grace: hosts that kept them stay ready",
			f: Fleet{Current: spec(boot37), Hosts: fleetOf(2, boot37, nil, cur, boot37),
				Retained: []events.RetainedImages{{Images: cur, Until: previewNow.Add(time.Hour)}}},
			c: Change{Action: ActionRollback, To: spec(cur)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseChanged, FromImage: boot37.ImageName("13"), ToImage: cur.ImageName("13"), ReadyAfter: 2, Retained: true, PruneVMs: 2, PruneGB: 80},
					{Release: "14", Change: ReleaseChanged, FromImage: boot37.ImageName("14"), ToImage: cur.ImageName("14"), ReadyAfter: 2, Retained: true, PruneVMs: 2, PruneGB: 80},
				},
				Total: ImpactTotal{PruneVMs: 4, PruneGB: 160},
			},
		},
		{
			name: "no change: nothing happens",
			f:    Fleet{Current: spec(cur), Hosts: fleetOf(2, cur, nil, cur)},
			c:    Change{Action: ActionSet, To: spec(cur)},
			want: Impact{
				Releases: []ReleaseImpact{
					{Release: "13", Change: ReleaseUnchanged, FromImage: cur.ImageName("13"), ToImage: cur.ImageName("13"), ReadyAfter: 2},
					{Release: "14", Change: ReleaseUnchanged, FromImage: cur.ImageName("14"), ToImage: cur.ImageName("14"), ReadyAfter: 2},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Now = previewNow
			got := Preview(tt.f, tt.c)
			want := tt.want
			want.Action, want.From, want.To, want.Hosts = tt.c.Action, tt.f.Current.Images, tt.c.To.Images, len(tt.f.Hosts)
			want.ConfirmNotReadyFraction = DefaultConfirmNotReadyFraction
			if tt.f.ConfirmNotReadyFraction > 0 {
				want.ConfirmNotReadyFraction = tt.f.ConfirmNotReadyFraction
			}
			want.PrunableAfter = previewNow.Add(events.DefaultRemovedGrace)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Got(Preview) diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPreviewThreshold(t *testing.T) {
	cur, boot37 := testImages(), withImages(func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" })
	hosts := fleetOf(10, cur, nil)
	hosts[0] = previewHost("mac-00", cur, nil, cur.ImageName("13"), cur.ImageName("14"))
	hosts[1] = previewHost("mac-01", cur, nil, cur.ImageName("13"), cur.ImageName("14"))
	for _, tt := range []struct {
		threshold float64
		want      bool
	}{{0, true}, {0.1, true}, {0.2, false}, {0.5, false}} {
		got := Preview(Fleet{Now: previewNow, Current: events.Spec{Images: cur}, Hosts: hosts, ConfirmNotReadyFraction: tt.threshold},
			Change{Action: ActionSet, To: events.Spec{Images: boot37}})
		if got.NotReadyFraction != 0.2 || got.ConfirmNeeded != tt.want {
			t.Errorf("Got(Preview at threshold %v) = fraction %v, confirm %v, want 0.2, %v", tt.threshold, got.NotReadyFraction, got.ConfirmNeeded, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{0: "0%", 0.1: "10%", 0.125: "12.5%", 1: "100%", 0.05: "5%"} {
		if got := Percent(f); got != want {
			t.Errorf("Got(Percent(%v)) = %q, want %q", f, got, want)
		}
	}
}

// coreStub is a Core whose spec bucket must not be touched.
type coreStub struct {
	spec     events.Spec
	kvCalled bool
}

func (c *coreStub) KV() jetstream.KeyValue                          { c.kvCalled = true; return nil }
func (c *coreStub) Spec() events.Spec                               { return c.spec }
func (c *coreStub) Writable() error                                 { return nil }
func (c *coreStub) AdoptSpec(events.Spec)                           {}
func (c *coreStub) SetNext(*events.Spec, uint64)                    {}
func (c *coreStub) UnblockImages(context.Context, events.ImageSpec) {}
func (c *coreStub) Trigger()                                        {}

// TestAutoPromoteNeverRemovesARelease: a staged spec that lacks a release
// of the spec in force (one added after the stage) is not auto-promoted,
// however many hosts hold it.
func TestAutoPromoteNeverRemovesARelease(t *testing.T) {
	core := &coreStub{spec: events.Spec{Images: withImages(func(im *events.ImageSpec) { im.Releases = []string{"13", "14", "15"} })}}
	p := &Ops{Core: core, Now: func() time.Time { return previewNow }, Timeout: time.Second, Log: testlog.New(t, slog.LevelInfo)}
	next := &events.Spec{Images: withImages(func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" }), AutoPromote: 0.9, Revision: 9}
	p.AutoPromote(t.Context(), next, 10, 10)
	if core.kvCalled {
		t.Errorf("Got(auto-promote of a staged spec removing release 15) = promoted, want held")
	}
}

// TestPreviewNoSpace: a host lacking a new image is short of room for it
// when its reported disk has less free than the image it replaces takes
// (the new images before it counted as taken) plus To's disk emergency
// threshold; a host with no disk reported is never counted short.
func TestPreviewNoSpace(t *testing.T) {
	cur, boot37 := testImages(), withImages(func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" })
	disk := func(freeGB int64) *events.Disk {
		return &events.Disk{Path: "/", FreeBytes: freeGB * 1e9, TotalBytes: 1000e9}
	}
	hosts := fleetOf(4, cur, nil, cur) // each holds both 3.6 images, 40 GB each
	hosts[0].Disk = disk(500)          // room for both
	hosts[1].Disk = disk(60)           // room for 13's image, then not for 14's
	hosts[2].Disk = disk(20)           // room for neither
	// hosts[3] reports no disk: nothing to go by.
	for _, tt := range []struct {
		name             string
		reserve          int64
		want13, want14   int
		wantHostsShort   int
		wantMissingEvery int
	}{
		{"no disk emergency threshold", 0, 1, 2, 2, 4},
		{"30 GB kept free for the disk emergency threshold", 30e9, 2, 2, 2, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			to := events.Spec{Images: boot37, Cleanup: events.CleanupPolicy{DiskEmergencyFreeBytes: tt.reserve}}
			im := Preview(Fleet{Now: previewNow, Current: events.Spec{Images: cur}, Hosts: hosts}, Change{Action: ActionSet, To: to})
			got := map[string][2]int{}
			for _, r := range im.Releases {
				got[r.Release] = [2]int{r.NoSpace, r.Missing}
			}
			want := map[string][2]int{"13": {tt.want13, tt.wantMissingEvery}, "14": {tt.want14, tt.wantMissingEvery}}
			if diff := cmp.Diff(want, got); diff != "" || im.Total.NoSpace != tt.wantHostsShort {
				t.Errorf("Got(no_space, missing per release; hosts short) = %v; %d, want %v; %d (-want +got):\n%s", got, im.Total.NoSpace, want, tt.wantHostsShort, diff)
			}
		})
	}
}
