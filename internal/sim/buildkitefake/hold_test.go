package buildkitefake

import (
	"testing"
	"time"
)

// A held build stays running past its due time and finishes at the hold's
// end; another build finishes when due.
func TestHoldKeepsARunningBuildUntilItsEnd(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newFake(t, WithClock(clock.Now), WithTimings(0, 10*time.Minute))
	c := newClient(t, s, testToken)
	create(t, c, "held", "main")
	create(t, c, "other", "main")
	s.Tick(clock.Now()) // both running
	bs := s.Builds()
	b, o := bs[0], bs[1]
	s.Hold(b.Org, b.Pipeline, b.Number, clock.Now().Add(30*time.Minute))

	s.Tick(clock.Add(10 * time.Minute))
	if b, _ := s.GetBuild(b.Org, b.Pipeline, b.Number); b.State != StateRunning {
		t.Errorf("Got(held build at its due time) = %s, want running", b.State)
	}
	if o, _ := s.GetBuild(o.Org, o.Pipeline, o.Number); o.State != StatePassed {
		t.Errorf("Got(other build at its due time) = %s, want passed", o.State)
	}
	end := clock.Add(20 * time.Minute)
	s.Tick(end)
	b, _ = s.GetBuild(b.Org, b.Pipeline, b.Number)
	if b.State != StatePassed || !b.FinishedAt.Equal(end) {
		t.Errorf("Got(held build at the hold's end) = %s finished %s, want passed at %s", b.State, b.FinishedAt, end)
	}
}
