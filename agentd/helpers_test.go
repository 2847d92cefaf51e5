package agentd

import (
	"context"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// gib is the bytes of one GB of a VM's size, as the agent counts them.
const gib = cleanup.GiB

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

// testSpec is two releases with the seed's versions.
func testSpec() events.ImageSpec {
	return events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
}

// testConfig is a config under a fresh temp dir (tart home and state dir).
func testConfig(t testing.TB) Config {
	dir := t.TempDir()
	return Config{
		Hostname: "Mac-01.local", Images: testSpec(),
		TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state"),
		TartTimeout: 2 * time.Second,
	}
}

func newAgent(t testing.TB, cfg Config, tt Tart, opts ...Option) *Agent {
	t.Helper()
	a, err := New(cfg, tt, append([]Option{WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustCheck(t testing.TB, a *Agent) events.HostHealth {
	t.Helper()
	h, err := a.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return h
}

// name is the seed template filled in.
func name(release, bun, bootstrap string) string {
	return "bun-build-macos-" + release + "-" + bun + "-bootstrap-" + bootstrap
}

var _ Tart = (*tarttest.Fake)(nil)

// opErrForTest is a tart failure as the client reports one.
func opErrForTest() error {
	return &tart.Error{Args: []string{"clone"}, ExitCode: 1, Stderr: "Error: registry unreachable"}
}
