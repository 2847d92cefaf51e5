package fleetsim

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// The world protects the staged images while a rollout is in progress and
// keeps each image that leaves every active spec for the grace of the spec
// in force from the change; an image made active again is simply expected.
func TestWorldRemovalGrace(t *testing.T) {
	t.Parallel()
	a := DefaultConfig().initialSpec(time.Now())
	a.Cleanup.RemovedGrace = events.Duration(time.Hour)
	b := a
	b.Images.BootstrapVersion = "3.7"
	a13, b13 := a.Images.ImageName("13"), b.Images.ImageName("13")
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	var w world
	w.set(a, t0)
	w.setNext(&b, 7, t0.Add(time.Minute))
	if r := w.rules(b13); r.next == nil || r.next.ImageName("13") != b13 || !r.graceUntil.IsZero() {
		t.Errorf("Got(rules of a staged image) = %+v, want the staged spec and no grace", r)
	}
	if moved := w.set(b, t0.Add(time.Hour)); !moved {
		t.Errorf("Got(set of the promoted spec) = not moved, want the images in force moved")
	}
	w.setNext(nil, 8, t0.Add(time.Hour))
	if got, want := w.rules(a13).graceUntil, t0.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("Got(grace of the old image) until %s, want %s (the promotion + 1h)", got, want)
	}
	w.setNext(&b, 6, t0) // an older change of key next arriving late
	if w.staged() != nil {
		t.Errorf("Got(staged after a late older revision) = %+v, want none", w.staged())
	}
	w.set(a, t0.Add(90*time.Minute)) // rollback
	if r := w.rules(a13); !r.graceUntil.IsZero() {
		t.Errorf("Got(grace of an image active again) until %s, want none", r.graceUntil)
	}
	if got, want := w.rules(b13).graceUntil, t0.Add(150*time.Minute); !got.Equal(want) {
		t.Errorf("Got(grace of the rolled-back image) until %s, want %s", got, want)
	}
}
