package orchestrator_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// TestStagedRollout: through the real server, a staged bootstrap bump is
// built on every host beside the current image while every host stays
// ready on the current spec; the rollout's progress is in the readiness;
// once every host holds the staged image the orchestrator promotes it by
// itself (auto_promote 100%), deletes key next, and the hosts are ready on
// the new spec with no further build.
func TestStagedRollout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	// The hosts hold the current image before the orchestrator starts: no
	// build of it holds a host's build slot.
	agents := h.addAgents(2, "mac", spec.Images)
	h.holdCurrent(spec.Images, agents...)
	h.start(h.config(spec))
	c := h.api(apiToken)
	ctx := t.Context()

	if _, err := c.PromoteSpec(ctx, api.SpecPromote{}); h.status(err) != http.StatusNotFound {
		t.Errorf("Got(promote without a staged spec) = %v, want 404", err)
	}
	if _, err := c.StageSpec(ctx, api.SpecUpdate{BootstrapVersion: ptr("3.6")}); h.status(err) != http.StatusBadRequest {
		t.Errorf("Got(stage of the images in force) = %v, want 400", err)
	}
	if _, err := c.StageSpec(ctx, api.SpecUpdate{Releases: []string{"abc def"}}); h.status(err) != http.StatusBadRequest {
		t.Errorf("Got(stage of an invalid spec) = %v, want 400", err)
	}

	for _, ag := range agents {
		h.waitFor("host ready on the current spec", func() bool { return h.hostReady(ag.host) })
	}

	staged, err := c.StageSpec(ctx, api.SpecUpdate{BootstrapVersion: ptr("3.7"), AutoPromote: ptr(1.0), By: "alice"})
	if err != nil {
		t.Fatalf("Got(stage) = %v, want ok", err)
	}
	if staged.Images.BootstrapVersion != "3.7" || staged.AutoPromote != 1 || staged.UpdatedBy != "alice" {
		t.Errorf("Got(staged spec) = %+v, want bootstrap 3.7, auto-promote 1, by alice", staged)
	}
	if got, err := c.Next(ctx); err != nil || got.Images.BootstrapVersion != "3.7" {
		t.Errorf("Got(GET next) = %+v, %v, want the staged spec", got, err)
	}
	next := staged.Images.ImageName("14")
	for _, ag := range agents {
		key := builds.RecordKey(next, ag.host)
		h.waitFor("a build of the staged image on "+ag.host, func() bool { return h.bk.CreatedCount(key) == 1 })
	}
	r, err := c.Hosts(ctx)
	if err != nil || r.Readiness == nil || r.Readiness.Rollout == nil {
		t.Fatalf("Got(readiness) = %+v, %v, want a rollout", r.Readiness, err)
	}
	if ro := r.Readiness.Rollout; ro.Ready != 0 || len(ro.Releases) != 1 || ro.Releases[0].Image != next || ro.AutoPromote != 1 {
		t.Errorf("Got(rollout) = %+v, want none ready yet, release 14's staged image", ro)
	}
	for _, ag := range agents {
		if !h.hostReady(ag.host) || h.o.Spec().Images.BootstrapVersion != "3.6" {
			t.Errorf("Got(%s during the rollout) = not ready or spec changed, want ready on 3.6", ag.host)
		}
	}

	h.bk.Step() // running
	h.bk.Step() // passed: the build step publishes the staged image
	h.waitFor("promotion by itself", func() bool { return h.o.Spec().Images.BootstrapVersion == "3.7" })
	h.waitFor("the staged spec gone", func() bool { return h.o.Next() == nil })
	if _, err := h.w.Buckets.Spec.Get(context.Background(), events.NextSpecKey); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("Got(KV next after promotion) = %v, want deleted", err)
	}
	for _, ag := range agents {
		h.waitFor("host ready on the promoted spec", func() bool { return h.hostReady(ag.host) })
		if n := h.bk.CreatedCount(builds.RecordKey(next, ag.host)); n != 1 {
			t.Errorf("Got(builds of %s on %s) = %d, want 1 (none after promotion)", next, ag.host, n)
		}
	}
}

// TestStagedSpecPromoteByHand: unstage and promote through the API.
func TestStagedSpecPromoteByHand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	ag := h.addAgents(1, "mac", spec.Images)[0]
	h.holdCurrent(spec.Images, ag)
	h.start(h.config(spec))
	c := h.api(apiToken)
	ctx := t.Context()
	h.waitFor("host ready", func() bool { return h.hostReady(ag.host) })

	if _, err := c.StageSpec(ctx, api.SpecUpdate{BunVersion: ptr("1.2.17")}); err != nil {
		t.Fatal(err)
	}
	if err := c.UnstageSpec(ctx); err != nil {
		t.Fatalf("Got(unstage) = %v, want ok", err)
	}
	h.waitFor("no staged spec", func() bool { return h.o.Next() == nil })
	if _, err := c.Next(ctx); h.status(err) != http.StatusNotFound {
		t.Errorf("Got(GET next after unstage) = %v, want 404", err)
	}

	staged, err := c.StageSpec(ctx, api.SpecUpdate{BunVersion: ptr("1.2.17")})
	if err != nil {
		t.Fatal(err)
	}
	key := builds.RecordKey(staged.Images.ImageName("14"), ag.host)
	h.waitFor("the staged build", func() bool { return h.bk.CreatedCount(key) == 1 })
	// The cleanup policy in force changes during the rollout (a restart
	// with a new config writes it to key current): the promotion takes
	// the staged images, not the policy copied when the spec was staged.
	changed := h.o.Spec()
	changed.Cleanup.KeepBunVersions = 5
	changed.Cleanup.Windows = []events.Window{{Schedule: "0 3 * * *", Duration: events.Duration(time.Hour)}}
	b, err := events.Encode(events.TypeSpec, "/test", events.SpecKey, "", h.clock.Now(), changed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.w.Buckets.Spec.Put(ctx, events.SpecKey, b); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the new cleanup policy in force", func() bool { return h.o.Spec().Cleanup.KeepBunVersions == 5 })
	// The host lacks the staged image: the promotion needs a confirmation.
	promoted, err := c.PromoteSpec(ctx, api.SpecPromote{By: "bob", Confirm: true})
	if err != nil || promoted.Images.BunVersion != "1.2.17" || promoted.UpdatedBy != "bob" || promoted.AutoPromote != 0 {
		t.Fatalf("Got(promote) = %+v, %v, want bun 1.2.17 by bob", promoted, err)
	}
	if got := h.o.Spec(); got.Images.BunVersion != "1.2.17" || h.o.Next() != nil {
		t.Errorf("Got(after promote) = spec %+v, next %v, want the staged spec in force and none staged", got.Images, h.o.Next())
	}
	if got := promoted.Cleanup; got.KeepBunVersions != 5 || len(got.Windows) != 1 || got.Windows[0].Schedule != "0 3 * * *" {
		t.Errorf("Got(cleanup policy after promote) = %+v, want the one in force at promotion", got)
	}
}

// holdCurrent gives each agent the spec's images and waits until each has
// published itself ready, so an orchestrator started next replays hosts
// that need no build of the current spec.
func (h *harness) holdCurrent(im events.ImageSpec, agents ...*testAgent) {
	h.t.Helper()
	msgs := h.collectMsgs(h.subj.AllHealth())
	for _, ag := range agents {
		for _, r := range im.Releases {
			ag.tart.Add(events.VM{Name: im.ImageName(r), Source: "local", State: events.VMStopped, SizeGB: 20})
		}
		ag.a.Trigger()
	}
	for _, ag := range agents {
		h.waitFor(ag.host+" published ready", func() bool {
			for _, m := range msgs() {
				env, err := events.Decode(m.Data)
				if err != nil {
					continue
				}
				if hh, err := events.DecodeData[events.HostHealth](env, events.TypeHostHealth); err == nil && hh.Host == ag.host && hh.Ready {
					return true
				}
			}
			return false
		})
	}
}
