package cleanup

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"github.com/vmfleet/vmfleet/events"
	"pgregory.net/rapid"
)

// linearLatest is latest by walking every occurrence (the oracle).
func linearLatest(s *cron.SpecSchedule, from, to time.Time) (time.Time, bool) {
	var last time.Time
	for a := s.Next(from); !a.IsZero() && !a.After(to); a = s.Next(a) {
		last = a
	}
	return last, !last.IsZero()
}

// covered reports whether some occurrence covers t.
func covered(w *Windows, t time.Time) bool {
	for _, x := range w.ws {
		if a := x.sched.Next(t.Add(-x.dur)); !a.IsZero() && !a.After(t) {
			return true
		}
	}
	return false
}

// linearCloses is closes with linearLatest; done is false when it stopped at maxChain.
func linearCloses(w *Windows, now time.Time) (until time.Time, done bool) {
	until = now
	for range maxChain {
		next := until
		for _, x := range w.ws {
			if a, ok := linearLatest(x.sched, until.Add(-x.dur), until); ok && a.Add(x.dur).After(next) {
				next = a.Add(x.dur)
			}
		}
		if !next.After(until) {
			done = true
			break
		}
		until = next
	}
	if !until.After(now) {
		return time.Time{}, true
	}
	return until, done
}

func drawWindows(t *rapid.T) []events.Window {
	var ws []events.Window
	for range rapid.IntRange(1, 3).Draw(t, "windows") {
		s := fmt.Sprintf("%s%s %s %s %s %s",
			rapid.SampledFrom([]string{"", "CRON_TZ=UTC ", "CRON_TZ=America/New_York ", "CRON_TZ=Europe/Berlin ", "TZ=Asia/Kolkata ", "CRON_TZ=America/St_Johns "}).Draw(t, "zone"),
			rapid.SampledFrom([]string{"0", "30", "0,30", "*/20", "45"}).Draw(t, "minute"),
			rapid.SampledFrom([]string{"*", "1", "2", "3", "22", "0-5", "*/6", "1,13"}).Draw(t, "hour"),
			rapid.SampledFrom([]string{"*", "*", "1,15", "31"}).Draw(t, "dom"),
			rapid.SampledFrom([]string{"*", "*", "3,11", "10"}).Draw(t, "month"),
			rapid.SampledFrom([]string{"*", "*", "0", "1-5"}).Draw(t, "dow"))
		d := time.Duration(rapid.IntRange(1, 12*60).Draw(t, "minutes")) * time.Minute
		ws = append(ws, win(s, d))
	}
	return ws
}

// dstTransitions are instants where clocks change in the zones drawWindows
// uses, and one ordinary instant.
var dstTransitions = []time.Time{
	utc("2025-03-09T07:00:00Z"), utc("2025-11-02T06:00:00Z"), // New York
	utc("2025-03-30T01:00:00Z"), utc("2025-10-26T01:00:00Z"), // Berlin
	utc("2025-03-09T05:30:00Z"), utc("2025-11-02T04:30:00Z"), // St John's (UTC-3:30)
	utc("2025-06-10T12:00:00Z"),
}

// drawWindowsAndInstant draws parsed windows and an instant within three
// days of a DST change, on, just after or just before a whole second.
func drawWindowsAndInstant(t *rapid.T) (*Windows, time.Time) {
	ws := drawWindows(t)
	w, err := ParseWindows(ws)
	if err != nil {
		t.Fatalf("ParseWindows(%v) = %v", ws, err)
	}
	now := rapid.SampledFrom(dstTransitions).Draw(t, "around").
		Add(time.Duration(rapid.IntRange(-3*86400, 3*86400).Draw(t, "seconds")) * time.Second).
		Add(time.Duration(rapid.SampledFrom([]int{0, 1, 999_999_999}).Draw(t, "nanos")))
	return w, now
}

// TestWindowsProperties checks State against a brute-force oracle, around
// DST changes in several zones. Not Australia/Lord_Howe: its DST shift is 30
// minutes and robfig/cron, which assumes whole hours, answers inconsistently
// there (see ParseWindows).
func TestWindowsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		w, now := drawWindowsAndInstant(t)
		st := w.State(now)
		open := covered(w, now)
		if st.Open != open {
			t.Fatalf("Got(State(%v).Open) = %v, want %v", now, st.Open, open)
		}
		wantCloses, done := linearCloses(w, now)
		if !st.Closes.Equal(wantCloses) {
			t.Fatalf("Got(State(%v).Closes) = %v, want %v", now, st.Closes, wantCloses)
		}
		switch {
		case open:
			if st.Opens.After(now) || !covered(w, st.Opens) || !covered(w, st.Closes.Add(-time.Nanosecond)) || (done && covered(w, st.Closes)) {
				t.Fatalf("Got(State(%v)) = %+v: not a consistent open state", now, st)
			}
		case !st.Opens.IsZero():
			if !st.Opens.After(now) || !covered(w, st.Opens) || covered(w, st.Opens.Add(-time.Nanosecond)) {
				t.Fatalf("Got(State(%v)) = %+v: Opens is not the next opening", now, st)
			}
		}
	})
}

// TestStateUntilProperties checks that StateUntil's state is State's and
// holds at every instant of [now, until): at its ends, in its middle and at
// random points, around DST changes in several zones.
func TestStateUntilProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		w, now := drawWindowsAndInstant(t)
		st, until := w.StateUntil(now)
		if diff := cmp.Diff(w.State(now), st); diff != "" {
			t.Fatalf("Got(StateUntil(%v)) differs from State (-State +StateUntil):\n%s", now, diff)
		}
		if !until.After(now) {
			t.Fatalf("Got(StateUntil(%v) until) = %v, want after now", now, until)
		}
		span := until.Sub(now)
		ats := []time.Time{until.Add(-time.Nanosecond), until.Add(-time.Second), now.Add(span / 2),
			now.Add(time.Duration(rapid.Int64Range(0, int64(span-1)).Draw(t, "offset")))}
		for _, at := range ats {
			if at.Before(now) {
				continue
			}
			if diff := cmp.Diff(st, w.State(at)); diff != "" {
				t.Fatalf("Got(State(%v)) differs from StateUntil(%v) = (%+v, until %v) (-want +got):\n%s", at, now, st, until, diff)
			}
		}
	})
}
