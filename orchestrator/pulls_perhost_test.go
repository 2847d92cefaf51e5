package orchestrator_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// gatedClone is the in-memory tart whose clones (an agent's pulls) wait
// until open is closed, counting those started.
type gatedClone struct {
	*tarttest.Fake
	open    chan struct{}
	started *atomic.Int32
}

func (g gatedClone) Clone(ctx context.Context, src, dst string) error {
	g.started.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Fake.Clone(ctx, src, dst)
}

// TestRegistryModeOnePullPerHost: with two releases to pull, each host is
// sent one pull command at a time (pulls.max_per_host, default 1): while
// every host's first pull runs, nothing more goes out however many passes
// run, though the fleet-wide cap has room; once they end, each host gets
// its other image, and every host is ready with exactly one pull per image.
func TestRegistryModeOnePullPerHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}")
	spec.Images.Releases = []string{"13", "14"}
	cfg := h.config(spec) // pulls.max_concurrent 10: room for every pull
	h.start(cfg)
	pulls := h.collect("vmfleet.cmd.*.pull")

	open := make(chan struct{})
	var started atomic.Int32
	var hosts []string
	for i := range 3 {
		name := fmt.Sprintf("mac-%03d", i)
		dir := t.TempDir()
		tt := gatedClone{Fake: tarttest.NewFake(""), open: open, started: &started}
		a, err := agentd.New(agentd.Config{Hostname: name, Images: spec.Images, TartHome: filepath.Join(dir, "tart"),
			StateDir: filepath.Join(dir, "state"), Interval: time.Hour, TartTimeout: 5 * time.Second},
			tt, agentd.WithConn(bustest.Conn(t, h.ns)), agentd.WithLogger(testLogger(t, slog.LevelWarn).With("component", "agent")))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", name, err)
			}
		})
		hosts = append(hosts, a.Host())
	}

	h.waitFor("3 hosts", func() bool { return len(h.o.Hosts()) == 3 })
	h.waitFor("the builds", func() bool { return len(h.bk.Builds()) == 2 })
	h.bk.Step()
	h.bk.Step()
	for _, r := range spec.Images.Releases {
		h.waitState(builds.RecordKey(spec.Images.ImageName(r), ""), events.BuildPassed)
	}
	h.waitFor("every host pulling", func() bool { return started.Load() == 3 })
	h.settle(5)
	perHost := func() map[string]int {
		out := map[string]int{}
		for _, s := range pulls() {
			p, err := h.subj.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			out[p.Host]++
		}
		return out
	}
	if got := perHost(); len(got) != 3 || got[hosts[0]] != 1 || got[hosts[1]] != 1 || got[hosts[2]] != 1 {
		t.Errorf("Got(pull commands by host while each pulls its first image) = %v, want one each", got)
	}
	if got := h.metric("vmfleet_orchestrator_pulls_in_flight"); got != 3 {
		t.Errorf("Got(pulls in flight) = %v, want 3", got)
	}

	close(open)
	for _, host := range hosts {
		h.waitFor(host+" ready", func() bool { return h.hostReady(host) })
	}
	h.settle(3)
	if got := perHost(); len(got) != 3 || got[hosts[0]] != 2 || got[hosts[1]] != 2 || got[hosts[2]] != 2 {
		t.Errorf("Got(pull commands by host) = %v, want two each (one per image)", got)
	}
	if got := started.Load(); got != 6 {
		t.Errorf("Got(clones) = %d, want 6", got)
	}
}
