package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

// Follow hands on the initial value and later writes in order, skips the
// end-of-initial-values marker, and returns when its context ends.
func TestFollowHandsOnEntriesUntilCancelled(t *testing.T) {
	s := bustest.Server(t, t.TempDir())
	nc := bustest.Conn(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "follow"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithCancel(ctx)
	got := make(chan string, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Follow(fctx, w, func(e jetstream.KeyValueEntry) {
			got <- e.Key() + " " + e.Operation().String() + " " + string(e.Value())
		})
	}()
	if _, err := kv.Put(ctx, "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a KeyValuePutOp 1", "b KeyValuePutOp 2", "a KeyValueDeleteOp "} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("Got(entry) = %q, want %q", g, want)
			}
		case <-ctx.Done():
			t.Fatalf("no entry %q", want)
		}
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Follow did not return after its context ended")
	}
	select {
	case g := <-got:
		t.Errorf("Got(extra entry) = %q", g)
	default:
	}
}
