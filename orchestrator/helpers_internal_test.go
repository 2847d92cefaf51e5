package orchestrator

import (
	"log/slog"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

var (
	testImages = orchtest.Images
	health     = orchtest.Health
	encode     = orchtest.Encode
)

type fakeBK = orchtest.FakeBK

// newTestOrchestrator is an orchestrator without NATS, records in memory.
func newTestOrchestrator(t testing.TB, bk builds.Buildkite, cfg Config, now func() time.Time) *Orchestrator {
	t.Helper()
	if cfg.Spec.Images.Releases == nil {
		cfg.Spec.Images = testImages()
	}
	o, err := New(nil, bk, cfg, WithClock(now), WithLogger(testLogger(t)), withStore(builds.NewMemStore()))
	if err != nil {
		t.Fatal(err)
	}
	o.fleet.MarkCaughtUp()
	o.started.Store(true)
	o.prunes.UseHistory(nil) // no NATS, no spec history: nothing in a grace
	return o
}
