// Package orchtest holds the fixtures the orchestrator's tests share: a
// clock the test moves by hand, a valid health report, and an in-memory
// Buildkite. It is imported only by tests, and it imports neither the
// orchestrator nor its rooms above buildkite, so the orchestrator's own
// internal tests can use it.
package orchtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// T0 is the instant the tests' clocks start at.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a clock the test moves by hand; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Images is the image spec of releases 13 and 14.
func Images() events.ImageSpec {
	return events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
}

// Health is a valid health report of host: release 13 ready, 14 missing.
func Health(host, boot string, seq uint64, at time.Time) events.HostHealth {
	im := Images()
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

// Encode is h as the agent publishes it.
func Encode(t testing.TB, h events.HostHealth) []byte {
	t.Helper()
	b, err := events.Encode(events.TypeHostHealth, "/vmfleet/agent/"+h.Host, h.Host, h.MsgID(), h.CheckedAt, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FakeBK is an in-memory Buildkite for unit tests and benchmarks. Its zero
// value has no builds.
type FakeBK struct {
	mu      sync.Mutex
	builds  []buildkite.BuildInfo
	creates int
	gets    int
	cancels int
}

// CreateBuild records a scheduled build numbered after the last one.
func (f *FakeBK) CreateBuild(_ context.Context, req buildkite.BuildRequest) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	b := buildkite.BuildInfo{Number: len(f.builds) + 1, State: events.BuildScheduled, RawState: "scheduled", Key: req.Key, Attempt: req.Attempt,
		URL: fmt.Sprintf("https://buildkite.com/acme/build-macos-vm/builds/%d", len(f.builds)+1)}
	f.builds = append(f.builds, b)
	return b, nil
}

// ListBuilds is the builds of key, oldest first.
func (f *FakeBK) ListBuilds(_ context.Context, key string) ([]buildkite.BuildInfo, error) {
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

// GetBuild is build number, or a 404 APIError.
func (f *FakeBK) GetBuild(_ context.Context, number int) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if number < 1 || number > len(f.builds) {
		return buildkite.BuildInfo{}, &buildkite.APIError{Status: 404, Message: "Not Found"}
	}
	return f.builds[number-1], nil
}

// CancelBuild answers as Buildkite does: a scheduled build is canceled at
// once, a running one canceling (SetState finishes it); a finished build is
// a 422, an unknown one a 404 APIError. Cancels counts the calls.
func (f *FakeBK) CancelBuild(_ context.Context, number int) (buildkite.BuildInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels++
	if number < 1 || number > len(f.builds) {
		return buildkite.BuildInfo{}, &buildkite.APIError{Status: 404, Message: "Not Found"}
	}
	b := &f.builds[number-1]
	switch b.State {
	case events.BuildScheduled:
		b.State, b.RawState = events.BuildCanceled, "canceled"
	case events.BuildRunning:
		if b.RawState == "canceling" {
			return buildkite.BuildInfo{}, &buildkite.APIError{Status: 422, Message: "Build can't be canceled because it is canceling"}
		}
		b.RawState = "canceling"
	default:
		return buildkite.BuildInfo{}, &buildkite.APIError{Status: 422, Message: "Build can't be canceled because it is " + b.RawState}
	}
	return *b, nil
}

// Cancels is how many CancelBuild calls were made.
func (f *FakeBK) Cancels() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancels
}

// SetState moves build number to st (raw: Buildkite's word for it).
func (f *FakeBK) SetState(number int, st events.BuildState, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds[number-1].State, f.builds[number-1].RawState = st, raw
}

// AddBuild records b as it is (its Number is the caller's).
func (f *FakeBK) AddBuild(b buildkite.BuildInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds = append(f.builds, b)
}

// Builds is a copy of every build, in creation order.
func (f *FakeBK) Builds() []buildkite.BuildInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]buildkite.BuildInfo(nil), f.builds...)
}

// Creates is how many builds CreateBuild made.
func (f *FakeBK) Creates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates
}

// Gets is how many times GetBuild was called.
func (f *FakeBK) Gets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}
