package agentd

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// A spec change removes release 13; a prune request for its image within the
// removal grace is refused by the agent itself (skipped, removed_grace),
// whoever asks; after the grace the same request deletes it. A staged
// spec's image is never deleted.
func TestPruneKeepsRemovedImagesWithinTheGrace(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	nc := bustest.Conn(t, s)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, spec events.ImageSpec) uint64 {
		t.Helper()
		rev, err := b.Spec.Put(ctx, key, mustJSON(t, events.Spec{Images: spec, UpdatedAt: time.Now()}))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	both := testSpec()
	only14 := both
	only14.Releases = []string{"14"}
	staged := only14
	staged.BootstrapVersion = "3.7"
	img13, img14, img14next := both.ImageName("13"), both.ImageName("14"), staged.ImageName("14")

	f := tarttest.NewFake("")
	f.Add(local(img13), local(img14), local(img14next))
	clock := &fakeClock{t: time.Now()}
	a := newAgent(t, slowConfig(t), f, WithConn(agentConn(t, s, 50*time.Millisecond)), WithClock(clock.Now))
	sub := subscribeHealth(t, nc, a.Host())
	put(events.SpecKey, both)
	runAgent(t, a)
	put(events.NextSpecKey, staged)
	rev := put(events.SpecKey, only14)
	sub.next(10*time.Second, "a check against the spec without 13", func(h events.HostHealth) bool { return h.SpecRevision == rev })

	prune := func(what string, vms ...string) map[string]events.PruneOutcome {
		t.Helper()
		// The operator's --now: the window is no excuse, only the grace is.
		r := request(t, nc, cmdSubject(a, events.VerbPrune), command(t, events.VerbPrune, events.PruneRequest{VMs: vms, Now: true}))
		if !r.OK {
			t.Fatalf("%s: Got(reply) = %+v, want ok", what, r)
		}
		out := map[string]events.PruneOutcome{}
		for _, o := range r.Prune {
			out[o.VM] = o
		}
		return out
	}
	out := prune("within the grace", img13, img14next)
	if o := out[img13]; o.Result != events.PruneSkipped || o.Reason != string(cleanup.RuleRemovedGrace) {
		t.Errorf("Got(prune %s within the grace) = %s %s, want skipped removed_grace", img13, o.Result, o.Reason)
	}
	if o := out[img14next]; o.Result != events.PruneSkipped || o.Reason != "staged_image" {
		t.Errorf("Got(prune %s, staged) = %s %s, want skipped staged_image", img14next, o.Result, o.Reason)
	}
	if !f.Has(img13) || !f.Has(img14next) {
		t.Fatalf("Got(VMs after a prune within the grace) = %v, want %s and %s kept", f.Names(), img13, img14next)
	}

	clock.Add(events.DefaultRemovedGrace + time.Minute)
	out = prune("after the grace", img13, img14next)
	if o := out[img13]; o.Result != events.PruneDeleted || o.Reason != "release_removed" {
		t.Errorf("Got(prune %s after the grace) = %s %s, want deleted release_removed", img13, o.Result, o.Reason)
	}
	if o := out[img14next]; o.Result != events.PruneSkipped || o.Reason != "staged_image" {
		t.Errorf("Got(prune %s after the grace, staged) = %s %s, want skipped staged_image", img14next, o.Result, o.Reason)
	}
	if f.Has(img13) || !f.Has(img14next) {
		t.Errorf("Got(VMs after the grace) = %v, want %s gone and %s kept", f.Names(), img13, img14next)
	}
}
