package web

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

var (
	testImages = orchtest.Images
	health     = orchtest.Health
	encode     = orchtest.Encode
)

type fakeBK = orchtest.FakeBK

// newTestServer serves an orchestrator without NATS, build records in
// memory (starting with recs), started and caught up. bk may be nil (no
// builds).
func newTestServer(t testing.TB, bk builds.Buildkite, cfg orchestrator.Config, now func() time.Time, recs ...api.Record) *Server {
	t.Helper()
	if cfg.Spec.Images.Releases == nil {
		cfg.Spec.Images = testImages()
	}
	log := slog.New(slog.DiscardHandler) // a fuzz target must not log through *testing.F
	if _, fuzz := t.(*testing.F); !fuzz {
		log = testlog.New(t, slog.LevelDebug)
	}
	o, err := orchestrator.New(nil, bk, cfg, orchestrator.WithClock(now), orchestrator.WithLogger(log),
		orchestrator.WithMemoryRecords(recs...))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.StartOffline(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record is the build record of key, if any.
func record(s *Server, key string) api.Record {
	for _, r := range s.o.Builds() {
		if r.Key == key {
			return r
		}
	}
	return api.Record{}
}
