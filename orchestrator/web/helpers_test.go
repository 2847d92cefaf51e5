package web

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testImages() events.ImageSpec {
	return events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
}

// health is a valid health report of host: release 13 ready, 14 missing.
func health(host, boot string, seq uint64, at time.Time) events.HostHealth {
	im := testImages()
	return events.HostHealth{
		Host: host, Hostname: host + ".local", Agent: "vmfleet-agent", BootID: boot, Seq: seq, CheckedAt: at,
		HeartbeatSeconds: 60, TartVersion: "2.22.0",
		Releases: []events.ReleaseStatus{
			{Release: "13", ExpectedImage: im.ImageName("13"), Ready: true, Reason: events.ReasonReady, Bun: "1.2.16", Bootstrap: "3.6"},
			{Release: "14", ExpectedImage: im.ImageName("14"), Reason: events.ReasonImageMissing, Bun: "1.2.16", Bootstrap: "3.6"},
		},
		VMs: []events.VM{
			{Name: im.ImageName("13"), Source: "local", State: "stopped", DiskGB: 80, SizeGB: 40, Accessed: at},
			{Name: "bun-build-macos-13-1.2.15-bootstrap-3.5", Source: "local", State: "stopped", DiskGB: 80, SizeGB: 40},
			{Name: "ghcr.io/cirruslabs/macos-sonoma-base:latest", Source: "oci", State: "stopped", DiskGB: 50, SizeGB: 25},
		},
		Disk:          &events.Disk{Path: "/Users/ci/.tart", FreeBytes: 100 << 30, TotalBytes: 500 << 30},
		BuildkiteTags: []string{"vm-ready-macos-13=true", "vm-ready-macos-14=false", "vmfleet-host=" + host},
	}
}

func encode(t testing.TB, h events.HostHealth) []byte {
	t.Helper()
	b, err := events.Encode(events.TypeHostHealth, "/vmfleet/agent/"+h.Host, h.Host, h.MsgID(), h.CheckedAt, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeBK is an in-memory Buildkite.
type fakeBK struct {
	mu     sync.Mutex
	builds []buildkite.BuildInfo
}

func (f *fakeBK) CreateBuild(_ context.Context, req buildkite.BuildRequest) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	if number < 1 || number > len(f.builds) {
		return buildkite.BuildInfo{}, &buildkite.APIError{Status: 404, Message: "Not Found"}
	}
	return f.builds[number-1], nil
}

func (f *fakeBK) CancelBuild(context.Context, int) error { return nil }

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
