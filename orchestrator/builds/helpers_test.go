package builds

import (
	"log/slog"
	"testing"

	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

// fakeBK is an in-memory Buildkite for unit tests and benchmarks.
type fakeBK = orchtest.FakeBK
