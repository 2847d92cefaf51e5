package orchestrator

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// TestCancelObsoleteReadsTheStoredSpec: the staged spec in KV protects its
// builds even before this orchestrator's watch has read it (a new leader);
// once no stored spec wants the image either, its build is cancelled.
func TestCancelObsoleteReadsTheStoredSpec(t *testing.T) {
	ctx := t.Context()
	js, err := jetstream.New(bustest.Conn(t, bustest.Server(t, "")))
	if err != nil {
		t.Fatal(err)
	}
	bks, err := bus.EnsureBuckets(ctx, js, 1, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bk := &fakeBK{}
	o := newTestOrchestrator(t, bk, Config{}, func() time.Time { return t0 })
	cur := o.Spec()
	next := cur
	next.Images.BootstrapVersion = "3.7"
	for key, s := range map[string]events.Spec{events.SpecKey: cur, events.NextSpecKey: next} {
		b, err := events.Encode(events.TypeSpec, "/test", key, "", t0, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bks.Spec.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	img := next.Images.ImageName("14")
	w := builds.Want{Key: builds.RecordKey(img, "mac-1"), Image: img, Release: "14", Host: "mac-1", Bun: "1.2.16", Bootstrap: "3.7"}
	o.builds.Ensure(ctx, []builds.Want{w})
	o.builds.Wait()

	o.cancelObsolete(ctx, bks.Spec) // the staged spec is not in memory yet
	o.builds.Wait()
	if got := bk.Cancels(); got != 0 {
		t.Fatalf("Got(cancels while the stored staged spec wants the image) = %d, want 0", got)
	}
	if err := bks.Spec.Delete(ctx, events.NextSpecKey); err != nil {
		t.Fatal(err)
	}
	o.cancelObsolete(ctx, bks.Spec)
	o.builds.Wait()
	if r := o.builds.Record(w.Key); bk.Cancels() != 1 || r == nil || r.State != events.BuildCanceled || r.Cancel != builds.ReasonObsolete {
		t.Errorf("Got(after the staged spec is gone) = %d cancels, record %+v, want 1 and canceled as obsolete", bk.Cancels(), r)
	}
}
