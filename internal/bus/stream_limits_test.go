package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

// TestStreamLimits: a stream made without limits (as older versions did)
// gets them on the next EnsureStreamLimits; then a host flooding its
// subject keeps only its latest MaxMsgsPerSubject events, another host's
// events stay, and an oversized event is refused.
func TestStreamLimits(t *testing.T) {
	s := bustest.Server(t, "")
	js, err := jetstream.New(bustest.Conn(t, s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subj, _ := events.NewSubjects("")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName, Subjects: subj.StreamSubjects(),
		Storage: jetstream.FileStorage, MaxAge: bus.StreamMaxAge}); err != nil {
		t.Fatal(err)
	}
	if got := bus.DefaultStreamLimits(); got.MaxMsgsPerSubject != bus.StreamMaxMsgsPerSubject || got.MaxBytes != bus.StreamMaxBytes || got.MaxMsgSize != bus.StreamMaxMsgSize || got.MaxAge != bus.StreamMaxAge {
		t.Errorf("Got(DefaultStreamLimits) = %+v", got)
	}
	limits := bus.StreamLimits{MaxAge: time.Hour, MaxBytes: 1 << 20, MaxMsgsPerSubject: 5, MaxMsgSize: 1024}
	st, err := bus.EnsureStreamLimits(ctx, js, subj, 1, limits)
	if err != nil {
		t.Fatalf("Got(EnsureStreamLimits on an existing stream) = %v, want nil", err)
	}
	cfg := st.CachedInfo().Config
	if cfg.MaxAge != time.Hour || cfg.MaxBytes != 1<<20 || cfg.MaxMsgsPerSubject != 5 || cfg.MaxMsgSize != 1024 {
		t.Fatalf("Got(updated stream limits) = age %s, bytes %d, per subject %d, msg size %d; want 1h, 1 MiB, 5, 1024",
			cfg.MaxAge, cfg.MaxBytes, cfg.MaxMsgsPerSubject, cfg.MaxMsgSize)
	}
	if _, err := js.Publish(ctx, subj.Health("mac-02"), []byte("quiet host")); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := js.Publish(ctx, subj.Health("mac-01"), []byte(strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj.AllHealth()))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects[subj.Health("mac-01")]; got != 5 {
		t.Errorf("Got(flooding host's stored events) = %d, want its latest 5", got)
	}
	if got := info.State.Subjects[subj.Health("mac-02")]; got != 1 {
		t.Errorf("Got(quiet host's stored events) = %d, want 1 (kept)", got)
	}
	last, err := st.GetLastMsgForSubject(ctx, subj.Health("mac-01"))
	if err != nil || len(last.Data) != 50 {
		t.Errorf("Got(flooding host's last event) = %d bytes, %v; want the 50th", len(last.Data), err)
	}
	if _, err := js.Publish(ctx, subj.Health("mac-01"), make([]byte, 2048)); err == nil {
		t.Error("Got(publish of an event over MaxMsgSize) = nil, want an error")
	}
}
