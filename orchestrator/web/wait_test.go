package web

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// TestCellWait: a missing image with nothing in flight says why — its
// build or pull queued behind a cap (state queued, with its place), held
// by the rate limit, backing off until when, or its key blocked.
func TestCellWait(t *testing.T) {
	img := testImages().ImageName("14")
	hostKey, fleetKey := builds.RecordKey(img, "mac-01"), builds.RecordKey(img, "")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		rec   *api.Record
		build *builds.Queued
		pull  *hostcmd.Pending
		state string
		kind  string
		text  string
	}{
		{name: "nothing known", state: api.CellMissing},
		{name: "build queued behind the fleet cap", state: api.CellQueued, kind: api.WaitQueued,
			build: &builds.Queued{Key: hostKey, Host: "mac-01", Cap: builds.CapMaxConcurrent, Limit: 10, Since: now.Add(-time.Minute), Position: 3, Of: 7},
			text:  "build queued behind builds.max_concurrent (10 live): 3 of 7 waiting, since 2025-03-01T11:59:00Z"},
		{name: "build queued behind its host's cap", state: api.CellQueued, kind: api.WaitQueued,
			build: &builds.Queued{Key: hostKey, Host: "mac-01", Cap: builds.CapMaxPerHost, Limit: 1, Since: now, Position: 1, Of: 2},
			text:  "build queued behind builds.max_per_host (1 live on mac-01): 1 of 2 waiting, since 2025-03-01T12:00:00Z"},
		{name: "registry build held by the rate limit", state: api.CellQueued, kind: api.WaitQueued,
			build: &builds.Queued{Key: fleetKey, Cap: builds.CapRateLimit, Since: now, Position: 1, Of: 1, Until: now.Add(30 * time.Second)},
			text:  "build held back by Buildkite's rate limit until 2025-03-01T12:00:30Z"},
		{name: "build backing off", state: api.CellMissing, kind: api.WaitBackoff,
			rec:  &api.Record{Key: hostKey, State: events.BuildFailed, Attempt: 2, Error: "exit 1", NextAttempt: now.Add(2 * time.Minute)},
			text: "build failed 2 times (last: exit 1); next attempt at 2025-03-01T12:02:00Z"},
		{name: "build failed, backoff over: no wait", state: api.CellMissing,
			rec: &api.Record{Key: hostKey, State: events.BuildFailed, Attempt: 2, NextAttempt: now}},
		{name: "blocked", state: api.CellBlocked, kind: api.WaitBlocked,
			rec:  &api.Record{Key: hostKey, State: events.BuildBlocked, Attempt: 5, Error: "exit 1"},
			text: "blocked after 5 failed builds (last: exit 1): vmfleet build retry " + hostKey},
		{name: "pull queued", state: api.CellQueued, kind: api.WaitQueued,
			pull: &hostcmd.Pending{Queued: true, Since: now, Position: 2, Of: 9, Cap: 4},
			text: "pull queued behind pulls.max_concurrent (4 in flight): 2 of 9 waiting, since 2025-03-01T12:00:00Z"},
		{name: "pull waits for the host's other pull", state: api.CellQueued, kind: api.WaitQueued,
			pull: &hostcmd.Pending{Queued: true, Since: now, Position: 1, Of: 1, Cap: 1, Group: "mac-01", Behind: "macos-13"},
			text: "pull waits for the host's pull of macos-13 (pulls.max_per_host: 1 in flight on a host): 1 of 1 waiting, since 2025-03-01T12:00:00Z"},
		{name: "pull backing off", state: api.CellMissing, kind: api.WaitBackoff,
			pull: &hostcmd.Pending{Failures: 3, NextTry: now.Add(time.Minute), Err: "timeout"},
			text: "pull failed 3 times (last: timeout); next at 2025-03-01T12:01:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := &dashIndex{byKey: map[string]*api.Record{}, queues: queues{now: now, builds: map[string]builds.Queued{},
				pulls: map[pulls.HostImage]hostcmd.Pending{}}}
			if tt.rec != nil {
				ix.byKey[tt.rec.Key] = tt.rec
			}
			if tt.build != nil {
				ix.builds[tt.build.Key] = *tt.build
			}
			if tt.pull != nil {
				ix.pulls[pulls.HostImage{Host: "mac-01", Image: img}] = *tt.pull
			}
			c := cell("mac-01", events.ReleaseStatus{Release: "14", ExpectedImage: img, Reason: events.ReasonImageMissing}, false, false, ix)
			if c.State != tt.state {
				t.Errorf("Got(cell state) = %q, want %q", c.State, tt.state)
			}
			switch {
			case tt.kind == "" && c.Wait != nil:
				t.Errorf("Got(cell wait) = %+v, want none", c.Wait)
			case tt.kind != "" && (c.Wait == nil || c.Wait.Kind != tt.kind || c.Wait.Text != tt.text):
				t.Errorf("Got(cell wait) = %+v, want %s: %q", c.Wait, tt.kind, tt.text)
			}
		})
	}
}
