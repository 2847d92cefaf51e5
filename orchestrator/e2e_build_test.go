package orchestrator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

func TestRestartAdoptsLiveBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	h.waitState(key, events.BuildScheduled)

	h.stopO()
	h.bk.Step() // running while no orchestrator listens
	h.start(cfg)
	h.waitState(key, events.BuildRunning)
	h.settle(5)
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Fatalf("Got(CreatedCount after restart) = %d, want 1", got)
	}
	h.bk.Step()
	h.waitState(key, events.BuildPassed)
	h.waitFor("host ready", func() bool { return h.hostReady(ag.host) })
	if got := h.bk.MaxLiveCount(key); got != 1 {
		t.Errorf("Got(MaxLiveCount) = %d, want 1", got)
	}
}

func TestCreateFailedAfterCreatingIsAdopted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.proxyCreateFailures(1)
	// Without the build.scheduled webhook (which would settle the doubt at
	// once), only the listing by meta-data can find the build.
	h.bk.DropWebhooks(1)
	spec := testSpec("")
	cfg := h.config(spec)
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), ag.host)

	h.waitFor("the record in doubt", func() bool { r, ok := h.record(key); return ok && r.Doubt })
	h.settle(5)
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Fatalf("Got(CreatedCount while in doubt) = %d, want 1", got)
	}
	h.clock.Add(cfg.Builds.DoubtDelay)
	r := h.waitState(key, events.BuildScheduled)
	if want := h.bk.Builds()[0].Number; r.Number != want || r.Doubt {
		t.Errorf("Got(record) = #%d doubt=%v, want #%d adopted", r.Number, r.Doubt, want)
	}
	h.settle(5)
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Errorf("Got(CreatedCount after adoption) = %d, want 1", got)
	}
}

func TestFailingPipelineBacksOffThenBlocks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, buildkitefake.WithOutcome(func(buildkitefake.Build) buildkitefake.State { return buildkitefake.StateFailed }))
	spec := testSpec("")
	cfg := h.config(spec) // MaxAttempts 3, backoff 1m doubling
	h.start(cfg)
	blocked := h.collect("vmfleet.build.14.blocked")
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), ag.host)

	for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute} {
		h.waitFor("a build", func() bool { return h.bk.CreatedCount(key) == attempt+1 })
		h.bk.Step()
		h.bk.Step()
		r := h.waitState(key, events.BuildFailed)
		if got, want := r.NextAttempt.Sub(r.FinishedAt), wait; got != want {
			t.Errorf("Got(backoff after attempt %d) = %v, want %v", attempt+1, got, want)
		}
		h.settle(3)
		if got := h.bk.CreatedCount(key); got != attempt+1 {
			t.Fatalf("Got(CreatedCount during backoff %d) = %d, want %d", attempt+1, got, attempt+1)
		}
		h.clock.Add(wait - time.Second)
		h.settle(3)
		if got := h.bk.CreatedCount(key); got != attempt+1 {
			t.Fatalf("Got(CreatedCount 1s before backoff %d ends) = %d, want %d", attempt+1, got, attempt+1)
		}
		h.clock.Add(time.Second)
	}
	h.waitFor("third build", func() bool { return h.bk.CreatedCount(key) == 3 })
	h.bk.Step()
	h.bk.Step()
	h.waitState(key, events.BuildBlocked)
	h.waitFor("blocked event", func() bool { return len(blocked()) == 1 })
	h.clock.Add(time.Hour)
	h.settle(3)
	if got := h.bk.CreatedCount(key); got != 3 {
		t.Fatalf("Got(CreatedCount once blocked) = %d, want 3", got)
	}
	if got := h.metric("vmfleet_orchestrator_blocked_keys"); got != 1 {
		t.Errorf("Got(blocked_keys) = %v, want 1", got)
	}

	// An operator's retry: refused without the token, honoured with it.
	if got := h.retry(key, "wrong"); got != http.StatusUnauthorized {
		t.Errorf("Got(retry with a wrong token) = %d, want 401", got)
	}
	if got := h.retry(key, apiToken); got != http.StatusOK {
		t.Fatalf("Got(retry) = %d, want 200", got)
	}
	h.waitFor("a build after retry", func() bool { return h.bk.CreatedCount(key) == 4 })
	if r, _ := h.record(key); r.Attempt != 1 {
		t.Errorf("Got(attempt after retry) = %d, want 1", r.Attempt)
	}
}

func TestRateLimitStormDelaysNeverDuplicates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.bk.AddFault(buildkitefake.Fault{Status: http.StatusTooManyRequests, Reset: 30 * time.Second, Count: 1_000_000})
	spec := testSpec("ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}")
	h.start(h.config(spec))
	// 1,000 hosts report the same missing image in the same second.
	h.addSynthetic(1000, "syn", spec.Images)
	key := builds.RecordKey(spec.Images.ImageName("14"), "")

	h.waitFor("1000 hosts", func() bool { return len(h.o.Hosts()) == 1000 })
	h.waitFor("a rate-limited call", func() bool { return h.bk.RequestCount("", "", http.StatusTooManyRequests) >= 1 })
	h.settle(10)
	calls := h.bk.RequestCount("", "", 0)
	if calls > 2 {
		t.Errorf("Got(calls before RateLimit-Reset) = %d, want at most 2", calls)
	}
	for range 3 { // the storm goes on: one call per reset window
		h.clock.Add(30 * time.Second)
		h.settle(5)
	}
	if got := h.bk.RequestCount("", "", 0); got > calls+6 {
		t.Errorf("Got(calls over three windows) = %d, want at most %d", got, calls+6)
	}
	h.bk.ClearFaults()
	// The last call of the storm may be answered 429 before the faults
	// were cleared and noted after the clock's next move, holding calls
	// one window past it: the clock moves a window at a time until the
	// build is created (each window lets one call through, now answered).
	created := func() bool {
		r, _ := h.record(key)
		return r.State == events.BuildScheduled
	}
	for windows := 1; ; windows++ {
		h.clock.Add(30 * time.Second)
		deadline := time.Now().Add(2 * time.Second)
		for !created() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if created() {
			break
		}
		if windows == 5 {
			t.Fatalf("Got(build %s after %d windows without faults) = not scheduled, want scheduled", key, windows)
		}
	}
	h.settle(5)
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Errorf("Got(CreatedCount) = %d, want 1", got)
	}
	if got := len(h.bk.Builds()); got != 1 {
		t.Errorf("Got(builds) = %d, want 1", got)
	}
}

func TestDroppedWebhookCaughtByPolling(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	h.waitState(key, events.BuildScheduled)
	// The first poll (due at once for a new build) has been answered.
	h.waitFor("the first poll", func() bool { return h.bk.RequestCount(http.MethodGet, buildkitefake.RouteBuild, 0) >= 1 })
	h.settle(3)

	h.bk.DropWebhooks(2)
	h.bk.Step()
	h.bk.Step() // passed, but nobody hears of it
	if err := h.bk.FlushWebhooks(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.settle(3)
	if r, _ := h.record(key); r.State != events.BuildScheduled {
		t.Fatalf("Got(state before the poll is due) = %s, want scheduled", r.State)
	}
	h.clock.Add(cfg.Builds.PollInterval)
	h.waitState(key, events.BuildPassed)
}
