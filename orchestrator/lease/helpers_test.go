package lease_test

import (
	"log/slog"
	"testing"

	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

func testLogger(t testing.TB, level slog.Level) *slog.Logger { return testlog.New(t, level) }
