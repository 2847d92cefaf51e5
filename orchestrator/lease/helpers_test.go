package lease_test

import (
	"log/slog"
	"testing"

	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

// clock is a clock the test moves by hand.
type clock = orchtest.Clock

func testLogger(t testing.TB, level slog.Level) *slog.Logger { return testlog.New(t, level) }
