package bus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

func TestSpecHistory(t *testing.T) {
	s := bustest.Server(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, err := jetstream.New(bustest.Conn(t, s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.EnsureBuckets(ctx, js, 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cache bus.SpecHistoryCache
	if h, err := cache.Load(ctx, b.Spec); err != nil || len(h) != 0 {
		t.Fatalf("Got(Load of an empty bucket) = %v, %v, want no entries", h, err)
	}
	put := func(key string, rels ...string) {
		t.Helper()
		spec := events.Spec{Images: events.DefaultImageSpec()}
		spec.Images.Releases = rels
		data, _ := json.Marshal(spec)
		if _, err := b.Spec.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	put(events.SpecKey, "13", "14")
	put(events.NextSpecKey, "14")
	if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"images":{"releases":["1 3"]}}`)); err != nil { // invalid: left out
		t.Fatal(err)
	}
	put(events.SpecKey, "14")
	if err := b.Spec.Delete(ctx, events.NextSpecKey); err != nil {
		t.Fatal(err)
	}

	h, err := cache.Load(ctx, b.Spec)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		rev      uint64
		key      string
		releases int
		deleted  bool
	}
	var got []row
	for _, r := range h {
		got = append(got, row{r.Revision, r.Key, len(r.Spec.Images.Releases), r.Deleted})
		if r.At.IsZero() {
			t.Errorf("Got(revision %d At) = zero, want the server's time", r.Revision)
		}
	}
	want := []row{{1, "current", 2, false}, {2, "next", 1, false}, {4, "current", 1, false}, {5, "next", 0, true}}
	if len(got) != len(want) {
		t.Fatalf("Got(history) = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Got(history[%d]) = %+v, want %+v", i, got[i], want[i])
		}
	}
	if r := events.Retained(h, time.Now()); len(r) != 1 || r[0].Names()[0] != "bun-build-macos-13-1.2.16-bootstrap-3.6" {
		t.Errorf("Got(Retained) = %+v, want release 13 retained", r)
	}

	// Unchanged bucket: the cached slice comes back; a change reads again.
	again, err := cache.Load(ctx, b.Spec)
	if err != nil || &again[0] != &h[0] {
		t.Errorf("Got(Load of an unchanged bucket) = a new read (%v), want the cached history", err)
	}
	put(events.SpecKey, "15")
	again, err = cache.Load(ctx, b.Spec)
	if err != nil || len(again) != len(h)+1 {
		t.Errorf("Got(Load after a change) = %d entries, %v, want %d", len(again), err, len(h)+1)
	}
}
