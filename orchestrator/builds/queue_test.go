package builds

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// TestQueue: wanted builds the caps hold back are queued, by cap, the
// longest waiting first, then by key (per host for builds.max_per_host); Buildkite's
// rate limit queues everything until it ends; a key nobody wants leaves
// the queue at the next full pass. Live records fill the caps, so
// nothing here reaches Buildkite.
func TestQueue(t *testing.T) {
	now := t0
	m := New(Config{MaxBuilds: 2, MaxBuildsPerHost: 1}, testLogger(t), func() time.Time { return now }, &fakeBK{}, nil)
	m.Preload([]*Record{
		{Key: "img-1/mac-1", Image: "img-1", Host: "mac-1", State: events.BuildRunning, Revision: 1},
		{Key: "img-9", Image: "img-9", State: events.BuildScheduled, Revision: 1},
	}, now)
	want := func(img, host string) Want {
		return Want{Key: RecordKey(img, host), Image: img, Release: "14", Host: host, Bun: "1.2.16", Bootstrap: "3.6"}
	}
	m.Ensure(t.Context(), []Want{want("img-2", "mac-2"), want("img-2", "mac-1")})
	now = now.Add(time.Minute)
	m.Ensure(t.Context(), []Want{want("img-3", "mac-3"), want("img-2", "mac-2")})
	exp := map[string]Queued{
		"img-2/mac-2": {Key: "img-2/mac-2", Host: "mac-2", Cap: CapMaxConcurrent, Limit: 2, Since: t0, Position: 2, Of: 3},
		"img-2/mac-1": {Key: "img-2/mac-1", Host: "mac-1", Cap: CapMaxConcurrent, Limit: 2, Since: t0, Position: 1, Of: 3},
		"img-3/mac-3": {Key: "img-3/mac-3", Host: "mac-3", Cap: CapMaxConcurrent, Limit: 2, Since: t0.Add(time.Minute), Position: 3, Of: 3},
	}
	if diff := cmp.Diff(exp, m.Queue()); diff != "" {
		t.Errorf("Got(Queue with the fleet cap full) diff (-want +got):\n%s", diff)
	}

	// The registry build ends: mac-1's want now waits on its host's cap
	// alone; a full pass that no longer wants img-3 drops it.
	m.Preload([]*Record{{Key: "img-9", Image: "img-9", State: events.BuildPassed, Revision: 2}}, now)
	m.cfg.MaxBuilds = 1 // still full for mac-2 (mac-1's build is live)
	m.Ensure(t.Context(), []Want{want("img-2", "mac-1")})
	m.Sweep(t.Context(), map[string]bool{"img-2/mac-1": true, "img-2/mac-2": true})
	got := m.Queue()
	if q := got["img-2/mac-1"]; q.Cap != CapMaxConcurrent || !q.Since.Equal(t0) {
		t.Errorf("Got(Queue[img-2/mac-1]) = %+v, want still queued since %s", q, t0)
	}
	if _, ok := got["img-3/mac-3"]; ok || len(got) != 2 {
		t.Errorf("Got(Queue after a full pass without img-3) = %v, want img-3 gone", got)
	}
	m.cfg.MaxBuilds = 10
	m.Ensure(t.Context(), []Want{want("img-2", "mac-1")})
	if q := m.Queue()["img-2/mac-1"]; q.Cap != CapMaxPerHost || q.Limit != 1 || q.Position != 1 || q.Of != 1 {
		t.Errorf("Got(Queue[img-2/mac-1] with room in the fleet) = %+v, want behind builds.max_per_host, 1 of 1", q)
	}

	m.setGate(now.Add(30 * time.Second))
	m.Ensure(t.Context(), []Want{want("img-2", "mac-2")})
	if q := m.Queue()["img-2/mac-2"]; q.Cap != CapRateLimit || !q.Until.Equal(now.Add(30*time.Second)) {
		t.Errorf("Got(Queue[img-2/mac-2] while rate limited) = %+v, want the rate limit until +30s", q)
	}
}
