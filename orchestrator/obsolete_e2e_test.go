package orchestrator_test

import (
	"slices"
	"testing"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// putSpec writes releases as the spec in force (KV key current, as
// `vmfleet spec set` does) and waits for the orchestrator to follow.
func (h *harness) putSpec(spec events.Spec, releases ...string) events.Spec {
	h.t.Helper()
	spec.Images.Releases = releases
	b, err := events.Encode(events.TypeSpec, "/test", events.SpecKey, "", h.clock.Now(), spec)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.w.Buckets.Spec.Put(h.ctx, events.SpecKey, b); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("the spec in force", func() bool { return slices.Equal(h.o.Spec().Images.Releases, releases) })
	return spec
}

// fakeBuild is the fake Buildkite's newest build of key.
func (h *harness) fakeBuild(key string) (buildkitefake.Build, bool) {
	bs := h.bk.Builds()
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].Key() == key {
			return bs[i], true
		}
	}
	return buildkitefake.Build{}, false
}

// TestObsoleteBuildCancelledFreesTheSlot: a spec change that drops release
// 13 while its build runs on the host's only build slot cancels that build
// on Buildkite, once; the slot frees at Buildkite's "canceling" and release
// 14's build starts. Rolling back to 13 and 14 builds 13 again.
func TestObsoleteBuildCancelledFreesTheSlot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	spec.Images.Releases = []string{"13", "14"}
	cfg := h.config(spec) // builds.max_per_host 1
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key13 := builds.RecordKey(spec.Images.ImageName("13"), ag.host)
	key14 := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	h.waitState(key13, events.BuildScheduled)
	h.bk.Step()
	h.waitState(key13, events.BuildRunning)
	h.settle(3)
	if got := h.bk.CreatedCount(key14); got != 0 {
		t.Fatalf("Got(CreatedCount(14) while 13 holds the slot) = %d, want 0", got)
	}

	h.putSpec(spec, "14")
	r := h.waitState(key13, events.BuildCanceled)
	if r.Cancel != builds.ReasonObsolete || r.BuildkiteState != "canceling" || r.Failures() != 0 {
		t.Errorf("Got(record of 13) = cancel %q, buildkite %q, %d failures, want obsolete, canceling, 0", r.Cancel, r.BuildkiteState, r.Failures())
	}
	if b, _ := h.fakeBuild(key13); b.State != buildkitefake.StateCanceling {
		t.Errorf("Got(13's build on Buildkite) = %s, want canceling", b.State)
	}
	h.waitState(key14, events.BuildScheduled) // the slot is free while 13 still stops
	if got := h.metric("vmfleet_orchestrator_builds_cancelled_total", "reason", "obsolete"); got != 1 {
		t.Errorf("Got(builds_cancelled_total{obsolete}) = %v, want 1", got)
	}

	h.bk.Step() // 13 canceled, 14 running
	h.waitFor("13's end noted", func() bool { r, _ := h.record(key13); return r.BuildkiteState == "canceled" })
	h.settle(3)
	if got := h.bk.RequestCount("PUT", buildkitefake.RouteCancel, 0); got != 1 {
		t.Errorf("Got(cancel calls) = %d, want 1", got)
	}
	h.bk.Step() // 14 passed
	h.waitState(key14, events.BuildPassed)

	// The change was a mistake: 13 comes back and is built again at once.
	h.putSpec(spec, "13", "14")
	r = h.waitState(key13, events.BuildScheduled)
	if r.Attempt != 2 || r.Failures() != 1 || h.bk.CreatedCount(key13) != 2 {
		t.Errorf("Got(13 after the rollback) = attempt %d, %d failures (the live attempt), %d builds, want 2, 1, 2", r.Attempt, r.Failures(), h.bk.CreatedCount(key13))
	}
}

// TestCancelledKeyIsNotBlocked: a key cancelled as obsolete more often than
// builds.max_attempts is built again, at once, whenever a spec wants it.
func TestCancelledKeyIsNotBlocked(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	spec.Images.Releases = []string{"13"}
	cfg := h.config(spec) // builds.max_attempts 3, backoff 1m on the test's clock
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key13 := builds.RecordKey(spec.Images.ImageName("13"), ag.host)
	key14 := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	for i := 1; i <= cfg.Builds.MaxAttempts+1; i++ {
		r := h.waitState(key13, events.BuildScheduled)
		if r.Attempt != i {
			t.Fatalf("Got(13's attempt in round %d) = %d, want %d", i, r.Attempt, i)
		}
		h.putSpec(spec, "14")
		h.waitState(key13, events.BuildCanceled)
		h.waitState(key14, events.BuildScheduled)
		h.putSpec(spec, "13")
		h.waitState(key14, events.BuildCanceled)
	}
	r := h.waitState(key13, events.BuildScheduled)
	if r.Attempt != cfg.Builds.MaxAttempts+2 || r.Failures() != 1 {
		t.Errorf("Got(13 after %d cancels) = attempt %d, %d failures, want %d, 1 (the live attempt)", cfg.Builds.MaxAttempts+1, r.Attempt, r.Failures(), cfg.Builds.MaxAttempts+2)
	}
	if got := h.metric("vmfleet_orchestrator_blocked_keys"); got != 0 {
		t.Errorf("Got(blocked_keys) = %v, want 0", got)
	}
	if got := h.metric("vmfleet_orchestrator_builds_cancelled_total", "reason", "obsolete"); got != float64(2*(cfg.Builds.MaxAttempts+1)) {
		t.Errorf("Got(builds_cancelled_total{obsolete}) = %v, want %d", got, 2*(cfg.Builds.MaxAttempts+1))
	}
}
