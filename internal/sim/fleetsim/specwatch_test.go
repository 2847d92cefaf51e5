package fleetsim

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

// next is the watch's next update (failing the test after 5 s).
func next(t *testing.T, w jetstream.KeyWatcher) (jetstream.KeyValueEntry, bool) {
	t.Helper()
	select {
	case e, ok := <-w.Updates():
		return e, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5s")
		return nil, false
	}
}

// The shared watch gives each agent the keys' latest entries, a nil once
// they are in, then every change of the keys it watches, as a watch of its
// own would.
func TestSpecHubFansOut(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	ctx, cancel := context.WithCancel(t.Context())
	js, _ := jetstream.New(bustest.Conn(t, s))
	b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"rev":1}`)); err != nil {
		t.Fatal(err)
	}
	h := newSpecHub()
	done := make(chan struct{})
	go func() { defer close(done); h.run(ctx, b.Spec, 10*time.Millisecond) }()
	var w1 jetstream.KeyWatcher
	for w1 == nil { // until the hub's own watch has the initial values
		if w1, err = h.watch(ctx, b.Spec, []string{events.SpecKey, events.NextSpecKey}); err != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if e, _ := next(t, w1); e == nil || e.Key() != events.SpecKey || string(e.Value()) != `{"rev":1}` {
		t.Fatalf("Got(first update) = %v, want current at rev 1", e)
	}
	if e, ok := next(t, w1); e != nil || !ok {
		t.Fatalf("Got(second update) = %v, %v, want the nil that ends the initial values", e, ok)
	}
	only, err := h.watch(ctx, b.Spec, []string{events.NextSpecKey})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := next(t, only); e != nil {
		t.Fatalf("Got(first update of a watch of next only) = %v, want nil (no next yet)", e.Key())
	}
	rev, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"rev":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := next(t, w1); e == nil || e.Revision() != rev {
		t.Fatalf("Got(update after a put) = %v, want revision %d", e, rev)
	}
	if _, err := b.Spec.Put(ctx, events.NextSpecKey, []byte(`{"next":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []jetstream.KeyWatcher{only, w1} {
		if e, _ := next(t, w); e == nil || e.Key() != events.NextSpecKey {
			t.Fatalf("Got(update after next was put) = %v, want next", e)
		}
	}
	// A later watch starts from the latest entries.
	w2, err := h.watch(ctx, b.Spec, []string{events.SpecKey})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := next(t, w2); e == nil || e.Revision() != rev {
		t.Fatalf("Got(first update of a later watch) = %v, want revision %d", e, rev)
	}
	// Stopped, a watch's updates end; the hub ending ends them all.
	_ = w2.Stop()
	if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"rev":3}`)); err != nil {
		t.Fatal(err)
	}
	if e, _ := next(t, w1); e == nil || string(e.Value()) != `{"rev":3}` {
		t.Fatalf("Got(update after a put) = %v, want rev 3", e)
	}
	ended := func(w jetstream.KeyWatcher, what string) {
		t.Helper()
		for {
			e, ok := next(t, w)
			if !ok {
				return
			}
			if e != nil && string(e.Value()) == `{"rev":3}` {
				t.Fatalf("Got(%s) = rev 3, want the updates ended", what)
			}
		}
	}
	ended(w2, "update of a stopped watch")
	cancel()
	<-done
	ended(w1, "updates after the hub ended")
	ended(only, "updates after the hub ended")
	if _, err := h.watch(t.Context(), b.Spec, []string{events.SpecKey}); err == nil {
		t.Error("Got(watch of a hub that stopped) = nil error, want errHubDown")
	}
}
