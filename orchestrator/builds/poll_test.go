package builds

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// The webhook fallback polls live builds within builds.max_polls_per_minute,
// the least recently polled first, so a hundred live builds do not spend
// Buildkite's organization-wide rate limit.
func TestSweepPollsWithinTheBudget(t *testing.T) {
	now := t0
	bk := &fakeBK{}
	store := newMemStore()
	m := New(Config{MaxBuilds: 1000, MaxPollsPerMinute: 60}, testLogger(t), func() time.Time { return now }, bk, store)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%03d", i)
		bk.AddBuild(buildkite.BuildInfo{Number: i + 1, State: events.BuildRunning, RawState: "running", Key: keys[i], Attempt: 1})
		r := &Record{Key: keys[i], Image: "img", Release: "14", State: events.BuildRunning, Attempt: 1, Number: i + 1}
		r.Revision, _ = store.Create(context.Background(), r)
		m.setLocked(r)
	}
	ctx := context.Background()
	polled := func() (n int, never []string) {
		for _, k := range keys {
			if m.lastPoll[k].IsZero() {
				never = append(never, k)
			}
		}
		return bk.Gets(), never
	}
	steps := []struct {
		after     time.Duration
		wantGets  int
		wantNever int
	}{
		{0, 60, 40},                // a minute's budget at once
		{30 * time.Second, 90, 10}, // half a minute refills 30: never-polled builds first
		{90 * time.Second, 150, 0}, // a whole minute refills 60, no more: the last 10, then the oldest
	}
	for _, st := range steps {
		now = t0.Add(st.after)
		m.Sweep(ctx, nil)
		m.Wait()
		if gets, never := polled(); gets != st.wantGets || len(never) != st.wantNever {
			t.Errorf("Got(after %s) = %d polls, %d builds never polled, want %d and %d", st.after, gets, len(never), st.wantGets, st.wantNever)
		}
	}
}

// The budget holds at most a minute's worth and refills with time.
func TestPollBudget(t *testing.T) {
	var b pollBudget
	steps := []struct {
		at          time.Duration
		want, wantN int
	}{
		{at: 0, want: 10, wantN: 10},                  // a full minute's worth at first
		{at: time.Second, want: 100, wantN: 51},       // 50 left + 1 a second
		{at: 2 * time.Second, want: 100, wantN: 1},    // empty, + 1
		{at: time.Second, want: 100, wantN: 0},        // a clock stepping back adds nothing
		{at: 10 * time.Minute, want: 1000, wantN: 60}, // never more than a minute's worth
	}
	for _, st := range steps {
		if got := b.take(t0.Add(st.at), 60, st.want); got != st.wantN {
			t.Errorf("Got(take %d at %s) = %d, want %d", st.want, st.at, got, st.wantN)
		}
	}
}
