package buildkitefake

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type transition struct {
	Number int
	State  State
	At     time.Time
}

// recordHooks records every state change the hook sees; call the result to read them.
func recordHooks(s *Server) func() []transition {
	var (
		mu   sync.Mutex
		seen []transition
	)
	s.OnStateChange(func(b Build) {
		at := b.FinishedAt
		switch b.State {
		case StateScheduled:
			at = b.ScheduledAt
		case StateRunning:
			at = b.StartedAt
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, transition{b.Number, b.State, at})
	})
	return func() []transition {
		mu.Lock()
		defer mu.Unlock()
		return append([]transition(nil), seen...)
	}
}

func TestLifecycleWithClock(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newFake(t, WithClock(clock.Now), WithTimings(time.Minute, 10*time.Minute),
		WithOutcome(func(b Build) State {
			if b.Key() == "bad" {
				return StateFailed
			}
			return StatePassed
		}))
	seen := recordHooks(s)
	c := newClient(t, s, testToken)
	create(t, c, "good", "main")
	create(t, c, "bad", "main")

	steps := []struct {
		at   time.Duration
		want []transition
	}{
		{at: 30 * time.Second, want: nil},
		{at: time.Minute, want: []transition{{1, StateRunning, t0.Add(time.Minute)}, {2, StateRunning, t0.Add(time.Minute)}}},
		{at: 10 * time.Minute, want: nil},
		{at: time.Hour, want: []transition{{1, StatePassed, t0.Add(11 * time.Minute)}, {2, StateFailed, t0.Add(11 * time.Minute)}}},
	}
	for _, st := range steps {
		changed := s.Tick(t0.Add(st.at))
		var got []transition
		for _, b := range changed {
			at := b.StartedAt
			if b.State.Finished() {
				at = b.FinishedAt
			}
			got = append(got, transition{b.Number, b.State, at})
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("Got(Tick(+%v)) mismatch (-want +got):\n%s", st.at, diff)
		}
	}
	if got := seen(); len(got) != 6 || got[0] != (transition{1, StateScheduled, t0}) {
		t.Errorf("Got(hook calls) = %v, want 6 starting with #1 scheduled at t0", got)
	}

	// A fresh build crosses both due times in one Tick; Advance uses the clock.
	clock.Add(2 * time.Hour)
	create(t, c, "good", "main")
	clock.Add(time.Hour)
	changed := s.Advance()
	if got := []State{changed[0].State, changed[1].State}; len(changed) != 2 || got[1] != StatePassed {
		t.Errorf("Got(Advance) = %v, want running then passed", changed)
	}
	for key, want := range map[string][3]int{"good": {2, 0, 1}, "bad": {1, 0, 1}} {
		got := [3]int{s.CreatedCount(key), s.LiveCount(key), s.MaxLiveCount(key)}
		if got != want {
			t.Errorf("Got(Created, Live, MaxLive(%s)) = %v, want %v", key, got, want)
		}
	}
}

func TestMaxLiveCount(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	create(t, c, "k", "main")
	create(t, c, "k", "main") // two live builds for one key: the invariant the orchestrator must keep
	s.Step()
	s.Step()
	create(t, c, "k", "main")
	got := [3]int{s.CreatedCount("k"), s.LiveCount("k"), s.MaxLiveCount("k")}
	if want := [3]int{3, 1, 2}; got != want {
		t.Errorf("Got(Created, Live, MaxLive) = %v, want %v", got, want)
	}
}

func TestSetState(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	create(t, c, "k", "main")
	var got []State
	s.OnStateChange(func(b Build) { got = append(got, b.State) })
	if _, err := s.SetState(org, pipe, 1, StateCanceled); err != nil {
		t.Fatalf("Got(SetState) = %v, want nil", err)
	}
	if _, err := s.SetState(org, pipe, 7, StateCanceled); err == nil {
		t.Errorf("Got(SetState(unknown)) = nil, want ErrNoBuild")
	}
	if diff := cmp.Diff([]State{StateCanceled}, got); diff != "" || s.LiveCount("k") != 0 {
		t.Errorf("Got(hooks, live) = %v, %d; diff %s", got, s.LiveCount("k"), diff)
	}
}
