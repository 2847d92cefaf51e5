package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

func TestStreamAndBucketsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := bustest.Server(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{s.ClientURL()}, Name: "test", ReconnectWait: 50 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	if _, err := bus.EnsureStream(ctx, js, subj, 1); err != nil {
		t.Fatal(err)
	}
	b, err := bus.EnsureBuckets(ctx, js, 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"images":{}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj.Health("mac-01"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Ensuring again is idempotent.
	if _, err := bus.EnsureStream(ctx, js, subj, 1); err != nil {
		t.Fatalf("Got(EnsureStream again) = %v, want nil", err)
	}

	bustest.Restart(t, s, dir)
	st, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("Got(stream msgs after restart) = %d, want 1", info.State.Msgs)
	}
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, events.SpecKey)
	if err != nil || string(e.Value()) != `{"images":{}}` {
		t.Errorf("Got(spec after restart) = %v, %v, want the stored spec", e, err)
	}
}

func TestConnectNeedsURL(t *testing.T) {
	if _, err := bus.Connect(bus.ConnConfig{}, nil); err != bus.ErrNoURL {
		t.Errorf("Got(Connect without URL) = %v, want ErrNoURL", err)
	}
}

func TestEnsureBucketsRaisesSpecHistory(t *testing.T) {
	s := bustest.Server(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, err := jetstream.New(bustest.Conn(t, s))
	if err != nil {
		t.Fatal(err)
	}
	// A bucket made by an older release, with the history it had then.
	old, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: events.BucketSpec, History: 10, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := old.Put(ctx, events.SpecKey, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	b, err := bus.EnsureBuckets(ctx, js, 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Spec.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != events.SpecHistory {
		t.Errorf("Got(spec bucket history) = %d, want %d", st.History(), events.SpecHistory)
	}
	// The raised limit holds: 70 more puts keep the last 64.
	for i := range 70 {
		if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(fmt.Sprint(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	h, err := b.Spec.History(ctx, events.SpecKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != events.SpecHistory || string(h[0].Value()) != "106" {
		t.Errorf("Got(history) = %d entries from %q, want %d from \"106\"", len(h), h[0].Value(), events.SpecHistory)
	}
}
