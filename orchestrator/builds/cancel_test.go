package builds

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// cancelBK is the in-memory Buildkite whose cancels answer errs first, in
// order, then as Buildkite would.
type cancelBK struct {
	*fakeBK
	mu   sync.Mutex
	errs []error
	// failed counts the cancels answered from errs.
	failed int
}

func (b *cancelBK) CancelBuild(ctx context.Context, number int) (buildkite.BuildInfo, error) {
	b.mu.Lock()
	if len(b.errs) > 0 {
		err := b.errs[0]
		b.errs = b.errs[1:]
		b.failed++
		b.mu.Unlock()
		return buildkite.BuildInfo{}, err
	}
	b.mu.Unlock()
	return b.fakeBK.CancelBuild(ctx, number)
}

func (b *cancelBK) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failed + b.fakeBK.Cancels()
}

// cancelEnv is a build manager on an in-memory store and Buildkite, with a
// clock the test moves, in host mode with one build slot per host.
type cancelEnv struct {
	t         *testing.T
	now       time.Time
	bk        *cancelBK
	m         *Manager
	cancelled []string
}

func newCancelEnv(t *testing.T, errs ...error) *cancelEnv {
	e := &cancelEnv{t: t, now: t0, bk: &cancelBK{fakeBK: &fakeBK{}, errs: errs}}
	cfg := Config{MaxBuilds: 10, MaxBuildsPerHost: 1, MaxAttempts: 3, BackoffBase: time.Minute, BackoffMax: time.Hour}
	e.m = New(cfg, testLogger(t), func() time.Time { return e.now }, e.bk, newMemStore())
	e.m.OnCancel(func(r *Record) { e.cancelled = append(e.cancelled, r.Key) })
	return e
}

func hostWant(release, host string) Want {
	img := "bun-build-macos-" + release + "-1.2.16-bootstrap-3.6"
	return Want{Key: RecordKey(img, host), Image: img, Release: release, Host: host, Bun: "1.2.16", Bootstrap: "3.6"}
}

func (e *cancelEnv) ensure(ws ...Want) {
	e.m.Ensure(context.Background(), ws)
	e.m.Wait()
}

// cancel runs CancelObsolete with images wanted and waits for its calls.
func (e *cancelEnv) cancel(images ...string) int {
	n := e.m.CancelObsolete(context.Background(), func(img string) bool {
		for _, w := range images {
			if w == img {
				return true
			}
		}
		return false
	})
	e.m.Wait()
	return n
}

func (e *cancelEnv) record(key string) Record {
	e.t.Helper()
	r := e.m.Record(key)
	if r == nil {
		e.t.Fatalf("no record %s", key)
	}
	return *r
}

// running makes the record's build running, as Buildkite's webhook says.
func (e *cancelEnv) running(key string) {
	r := e.record(key)
	e.bk.SetState(r.Number, events.BuildRunning, "running")
	e.m.ApplyWebhook(context.Background(), buildkite.BuildInfo{Key: key, Number: r.Number, Attempt: r.Attempt, State: events.BuildRunning, RawState: "running"})
}

// A running build whose image no spec wants is cancelled once: its record
// ends canceled at Buildkite's "canceling", so the host's slot frees and the
// wanted release's build is created; Buildkite's last word is noted.
func TestCancelObsoleteFreesTheSlot(t *testing.T) {
	e := newCancelEnv(t)
	old, keep := hostWant("13", "mac-1"), hostWant("14", "mac-1")
	e.ensure(old, keep)
	e.running(old.Key)
	if got := e.bk.Creates(); got != 1 {
		t.Fatalf("Got(creates with one slot) = %d, want 1", got)
	}
	if n := e.cancel(old.Image, keep.Image); n != 0 {
		t.Fatalf("Got(CancelObsolete while both are wanted) = %d, want 0", n)
	}

	if n := e.cancel(keep.Image); n != 1 {
		t.Fatalf("Got(CancelObsolete after 13 left the spec) = %d, want 1", n)
	}
	r := e.record(old.Key)
	if r.State != events.BuildCanceled || r.BuildkiteState != "canceling" || r.Cancel != ReasonObsolete || r.Cancels != 1 || r.Failures() != 0 {
		t.Errorf("Got(record) = %s (%s) cancel=%q cancels=%d failures=%d, want canceled (canceling) obsolete 1 0",
			r.State, r.BuildkiteState, r.Cancel, r.Cancels, r.Failures())
	}
	if len(e.cancelled) != 1 || e.cancelled[0] != old.Key {
		t.Errorf("Got(OnCancel calls) = %v, want [%s]", e.cancelled, old.Key)
	}
	e.ensure(keep)
	if k := e.record(keep.Key); e.bk.Creates() != 2 || !k.State.Live() {
		t.Errorf("Got(after the cancel) = %d creates, 14 %s, want 2 and 14 live", e.bk.Creates(), k.State)
	}
	if n := e.cancel(keep.Image); n != 0 || e.bk.calls() != 1 {
		t.Errorf("Got(CancelObsolete again) = %d started, %d calls in all, want 0 and 1", n, e.bk.calls())
	}

	e.bk.SetState(r.Number, events.BuildCanceled, "canceled")
	e.m.ApplyWebhook(context.Background(), buildkite.BuildInfo{Key: old.Key, Number: r.Number, State: events.BuildCanceled, RawState: "canceled", FinishedAt: t0.Add(time.Minute)})
	if r := e.record(old.Key); r.State != events.BuildCanceled || r.BuildkiteState != "canceled" || !r.FinishedAt.Equal(t0.Add(time.Minute)) || r.Cancels != 1 {
		t.Errorf("Got(record after the build.finished webhook) = %s (%s) at %s cancels=%d, want canceled (canceled) at %s, 1",
			r.State, r.BuildkiteState, r.FinishedAt, r.Cancels, t0.Add(time.Minute))
	}
}

// A key cancelled as obsolete more often than max_attempts is built again as
// soon as a spec wants it (a rollback): cancels are no failures, so no
// backoff and no block; a real failure after them backs off as the first.
func TestCancelledKeyIsNeverBlocked(t *testing.T) {
	e := newCancelEnv(t)
	w := hostWant("14", "mac-1")
	for i := 1; i <= 5; i++ {
		e.ensure(w)
		r := e.record(w.Key)
		if r.State != events.BuildScheduled || r.Attempt != i || e.bk.Creates() != i {
			t.Fatalf("Got(round %d) = %s attempt %d, %d creates, want scheduled attempt %d, %d creates", i, r.State, r.Attempt, e.bk.Creates(), i, i)
		}
		if n := e.cancel(); n != 1 {
			t.Fatalf("Got(round %d: CancelObsolete) = %d, want 1", i, n)
		}
		if r := e.record(w.Key); r.State != events.BuildCanceled || r.Cancels != i || !r.NextAttempt.Equal(r.FinishedAt) {
			t.Fatalf("Got(round %d: record) = %s cancels=%d next=%s finished=%s, want canceled, %d, no backoff", i, r.State, r.Cancels, r.NextAttempt, r.FinishedAt, i)
		}
	}
	e.ensure(w)
	r := e.record(w.Key)
	if r.State != events.BuildScheduled || r.Attempt != 6 || r.Cancel != "" {
		t.Fatalf("Got(after 5 cancels) = %s attempt %d cancel=%q, want scheduled attempt 6, no cancel", r.State, r.Attempt, r.Cancel)
	}
	e.bk.SetState(r.Number, events.BuildFailed, "failed")
	e.m.ApplyWebhook(context.Background(), buildkite.BuildInfo{Key: w.Key, Number: r.Number, State: events.BuildFailed, RawState: "failed", FinishedAt: t0})
	if r := e.record(w.Key); r.State != events.BuildFailed || r.Failures() != 1 || r.NextAttempt.Sub(r.FinishedAt) != time.Minute {
		t.Errorf("Got(a real failure after the cancels) = %s failures=%d backoff=%s, want failed, 1, 1m0s", r.State, r.Failures(), r.NextAttempt.Sub(r.FinishedAt))
	}
}

// Failed cancel calls: a 5xx backs off and gives up after max_attempts; a
// 429 waits for the rate limit's reset; a 404 ends the record; a 422 has the
// build read for its real outcome. None is asked twice at once.
func TestCancelObsoleteErrors(t *testing.T) {
	bad := &buildkite.APIError{Status: http.StatusBadGateway, Message: "Bad Gateway"}
	t.Run("5xx backs off then gives up", func(t *testing.T) {
		e := newCancelEnv(t, bad, bad, bad)
		w := hostWant("13", "mac-1")
		e.ensure(w)
		for try, wait := range []time.Duration{time.Minute, 2 * time.Minute} {
			e.cancel()
			r := e.record(w.Key)
			if r.State != events.BuildScheduled || r.CancelTries != try+1 || r.NextCancel.Sub(e.now) != wait || r.Cancel != ReasonObsolete {
				t.Fatalf("Got(after failed cancel %d) = %s tries=%d next in %s cancel=%q, want scheduled, %d, %s, obsolete",
					try+1, r.State, r.CancelTries, r.NextCancel.Sub(e.now), r.Cancel, try+1, wait)
			}
			e.now = e.now.Add(wait - time.Second)
			if n := e.cancel(); n != 0 {
				t.Fatalf("Got(CancelObsolete during backoff %d) = %d, want 0", try+1, n)
			}
			e.now = e.now.Add(time.Second)
		}
		e.cancel()
		e.now = e.now.Add(24 * time.Hour)
		if n := e.cancel(); n != 0 || e.bk.calls() != 3 {
			t.Errorf("Got(after max_attempts failed cancels) = %d started, %d calls, want 0 and 3", n, e.bk.calls())
		}
		if len(e.cancelled) != 0 {
			t.Errorf("Got(OnCancel calls) = %v, want none", e.cancelled)
		}
		// The build ends canceled after all (a failed call went through): it is
		// vmfleet's cancel, not a failure.
		r := e.record(w.Key)
		e.m.ApplyWebhook(context.Background(), buildkite.BuildInfo{Key: w.Key, Number: r.Number, State: events.BuildCanceled, RawState: "canceled"})
		if r := e.record(w.Key); r.State != events.BuildCanceled || r.Cancels != 1 || r.Failures() != 0 || !r.NextAttempt.Equal(r.FinishedAt) {
			t.Errorf("Got(record after the canceled webhook) = %s cancels=%d failures=%d, want canceled, 1, 0, no backoff", r.State, r.Cancels, r.Failures())
		}
	})
	t.Run("429 waits for the reset", func(t *testing.T) {
		e := newCancelEnv(t, &buildkite.RateLimitError{Reset: 30 * time.Second})
		w := hostWant("13", "mac-1")
		e.ensure(w)
		e.cancel()
		if r := e.record(w.Key); r.CancelTries != 0 || r.NextCancel.Sub(e.now) != 30*time.Second {
			t.Fatalf("Got(after a 429) = tries %d, next in %s, want 0, 30s", r.CancelTries, r.NextCancel.Sub(e.now))
		}
		e.now = e.now.Add(29 * time.Second)
		if n := e.cancel(); n != 0 {
			t.Fatalf("Got(CancelObsolete before the reset) = %d, want 0", n)
		}
		e.now = e.now.Add(time.Second)
		if n := e.cancel(); n != 1 || e.record(w.Key).State != events.BuildCanceled || len(e.cancelled) != 1 {
			t.Errorf("Got(after the reset) = %d started, record %s, %d counted, want 1, canceled, 1", n, e.record(w.Key).State, len(e.cancelled))
		}
	})
	t.Run("404 ends the record", func(t *testing.T) {
		e := newCancelEnv(t, &buildkite.APIError{Status: http.StatusNotFound, Message: "Not Found"})
		w := hostWant("13", "mac-1")
		e.ensure(w)
		e.cancel()
		if r := e.record(w.Key); r.State != events.BuildCanceled || r.Cancels != 1 || r.Failures() != 0 {
			t.Errorf("Got(after a 404) = %s cancels=%d failures=%d, want canceled, 1, 0", r.State, r.Cancels, r.Failures())
		}
		if n := e.cancel(); n != 0 || e.bk.calls() != 1 {
			t.Errorf("Got(CancelObsolete again) = %d started, %d calls, want 0 and 1", n, e.bk.calls())
		}
	})
	t.Run("422 reads the outcome", func(t *testing.T) {
		e := newCancelEnv(t)
		w := hostWant("13", "mac-1")
		e.ensure(w)
		// Passed on Buildkite; its webhook is not in yet.
		e.bk.SetState(e.record(w.Key).Number, events.BuildPassed, "passed")
		e.cancel()
		if r := e.record(w.Key); r.State != events.BuildPassed || e.bk.Gets() != 1 || len(e.cancelled) != 0 {
			t.Errorf("Got(after a 422) = %s, %d reads, %d counted, want passed, 1, 0", r.State, e.bk.Gets(), len(e.cancelled))
		}
	})
	t.Run("422 while canceling is final", func(t *testing.T) {
		e := newCancelEnv(t)
		w := hostWant("13", "mac-1")
		e.ensure(w)
		e.running(w.Key)
		if _, err := e.bk.fakeBK.CancelBuild(context.Background(), e.record(w.Key).Number); err != nil {
			t.Fatal(err) // someone else's cancel: the build is canceling
		}
		e.cancel()
		e.now = e.now.Add(24 * time.Hour)
		if n := e.cancel(); n != 0 || e.bk.calls() != 2 {
			t.Errorf("Got(CancelObsolete after a 422) = %d started, %d calls, want 0 and 2", n, e.bk.calls())
		}
		r := e.record(w.Key)
		e.m.ApplyWebhook(context.Background(), buildkite.BuildInfo{Key: w.Key, Number: r.Number, State: events.BuildCanceled, RawState: "canceled"})
		if r := e.record(w.Key); r.State != events.BuildCanceled || r.Failures() != 0 {
			t.Errorf("Got(record once canceled) = %s failures=%d, want canceled, 0", r.State, r.Failures())
		}
	})
}

// A create in doubt that nobody wants any more is abandoned canceled
// (ReasonUnwanted) without counting as a failure.
func TestUnwantedCreateIsNoFailure(t *testing.T) {
	e := newCancelEnv(t)
	w := hostWant("13", "mac-1")
	rec := &Record{Key: w.Key, Image: w.Image, Release: w.Release, Host: w.Host, Digest: digest(w), State: events.BuildRequested,
		Attempt: 3, Doubt: true, CheckAfter: t0}
	var err error
	if rec.Revision, err = e.m.store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	e.m.Preload([]*Record{rec}, t0)
	e.m.Sweep(context.Background(), nil)
	e.m.Wait()
	r := e.record(w.Key)
	if r.State != events.BuildCanceled || r.Cancel != ReasonUnwanted || r.Failures() != 2 {
		t.Fatalf("Got(abandoned create) = %s cancel=%q failures=%d, want canceled, unwanted, 2", r.State, r.Cancel, r.Failures())
	}
	e.ensure(w)
	if r := e.record(w.Key); r.State != events.BuildScheduled || r.Attempt != 4 {
		t.Errorf("Got(wanted again, max_attempts 3) = %s attempt %d, want scheduled attempt 4", r.State, r.Attempt)
	}
}

// A cancel asked but never answered (the leader went away mid-call) is asked
// again, once, by the next leader.
func TestNewLeaderAsksAnUnansweredCancelAgain(t *testing.T) {
	e := newCancelEnv(t)
	w := hostWant("13", "mac-1")
	e.ensure(w)
	cur := e.record(w.Key)
	if _, err := e.m.mutate(context.Background(), w.Key, func(r *Record) error { r.Cancel = ReasonObsolete; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := e.cancel(); n != 0 {
		t.Fatalf("Got(CancelObsolete while a cancel may be in flight) = %d, want 0", n)
	}
	if n := e.m.AdoptAll(); n != 1 {
		t.Fatalf("Got(AdoptAll) = %d, want 1", n)
	}
	if n := e.cancel(); n != 1 || e.record(w.Key).State != events.BuildCanceled || e.bk.calls() != 1 {
		t.Errorf("Got(CancelObsolete after adoption) = %d started, %s, %d calls, want 1, canceled, 1", n, e.record(w.Key).State, e.bk.calls())
	}
	if e.record(w.Key).Number != cur.Number {
		t.Errorf("Got(record number) = %d, want %d", e.record(w.Key).Number, cur.Number)
	}
}
