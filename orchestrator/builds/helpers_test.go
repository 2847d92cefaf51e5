package builds

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

// fakeBK is an in-memory Buildkite for unit tests and benchmarks.
type fakeBK struct {
	mu      sync.Mutex
	builds  []buildkite.BuildInfo
	creates int
	gets    int
}

func (f *fakeBK) CreateBuild(_ context.Context, req buildkite.BuildRequest) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	b := buildkite.BuildInfo{Number: len(f.builds) + 1, State: events.BuildScheduled, RawState: "scheduled", Key: req.Key, Attempt: req.Attempt,
		URL: fmt.Sprintf("https://buildkite.com/acme/build-macos-vm/builds/%d", len(f.builds)+1)}
	f.builds = append(f.builds, b)
	return b, nil
}

func (f *fakeBK) ListBuilds(_ context.Context, key string) ([]buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []buildkite.BuildInfo
	for _, b := range f.builds {
		if b.Key == key {
			out = append(out, b)
		}
	}
	return out, nil
}

func (f *fakeBK) GetBuild(_ context.Context, number int) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if number < 1 || number > len(f.builds) {
		return buildkite.BuildInfo{}, &buildkite.APIError{Status: 404, Message: "Not Found"}
	}
	return f.builds[number-1], nil
}

func (f *fakeBK) CancelBuild(context.Context, int) error { return nil }
