package cleanup

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/vmfleet/vmfleet/events"

	// Embedded zone data: CRON_TZ=Europe/Berlin must resolve the same way in
	// a minimal container (no /usr/share/zoneinfo) as on a macOS host.
	_ "time/tzdata"
)

// maxChain bounds how many chained window openings Closes follows (see
// WindowState.Closes), so that an always-open configuration such as
// "* * * * *" for 1m costs a bounded amount of work.
const maxChain = 64

// Windows is a parsed list of cleanup windows. A nil *Windows, or one parsed
// from an empty list, is never open. It is immutable and safe for concurrent use.
type Windows struct {
	ws []window
}

type window struct {
	sched *cron.SpecSchedule
	dur   time.Duration
}

// WindowState is the state of the cleanup windows at one instant, as computed
// once per reconcile pass by (*Windows).State and handed to Plan.
type WindowState struct {
	// Open reports whether the instant is inside a window.
	Open bool `json:"open"`
	// Opens is, when Open, the earliest start of a window occurrence that
	// covers the instant; when closed, when the next window opens. It is zero
	// when no window will open (none configured, or none within five years).
	Opens time.Time `json:"opens,omitzero"`
	// Closes is, when Open, when the windows close: the end of the open
	// occurrences, extended through occurrences that open before (or exactly
	// when) the previous one closes. It follows at most 64 such occurrences; past
	// that it is a lower bound (the windows are at least open until then).
	// It is zero when closed.
	Closes time.Time `json:"closes,omitzero"`
}

// ParseWindows parses cleanup windows. A schedule is a robfig/cron standard
// spec: five fields ("0 2 * * *") or a descriptor (@daily, @weekly, ...),
// optionally prefixed with CRON_TZ=<zone> or TZ=<zone>. Without a zone (or with
// "Local") a schedule runs in UTC, so that the orchestrator and every agent
// agree whatever their local zones. "@every" is refused: it is not anchored to
// the clock. An occurrence opened at t covers [t, t+duration), duration being
// elapsed time.
//
// Daylight saving follows robfig/cron: an occurrence whose start falls in the
// hour skipped at spring-forward does not happen that day, and one in the hour
// repeated at fall-back happens twice (its two occurrences then chain).
// robfig/cron assumes whole-hour shifts: in Australia/Lord_Howe (30 minutes)
// an occurrence near the change may be misplaced by the shift.
//
// Errors are *events.FieldError (matching events.ErrInvalid) naming the exact
// key, e.g. "cleanup.windows[1].schedule: ...".
func ParseWindows(ws []events.Window) (*Windows, error) {
	out := &Windows{ws: make([]window, 0, len(ws))}
	for i, w := range ws {
		key := fmt.Sprintf("cleanup.windows[%d]", i)
		sched, err := parseSchedule(w.Schedule)
		if err != nil {
			return nil, &events.FieldError{Field: key + ".schedule", Reason: err.Error()}
		}
		if w.Duration <= 0 {
			return nil, &events.FieldError{Field: key + ".duration", Reason: fmt.Sprintf("%s: must be positive, like 4h", w.Duration.D())}
		}
		out.ws = append(out.ws, window{sched: sched, dur: w.Duration.D()})
	}
	return out, nil
}

const scheduleHint = `want 5 fields like "0 2 * * *" or a descriptor like @daily, optionally after CRON_TZ=Europe/Berlin`

// neverRef is a fixed instant to test that a schedule ever fires: Feb 29 2000
// is within robfig's five-year search from it.
var neverRef = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func parseSchedule(s string) (sched *cron.SpecSchedule, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty: %s", scheduleHint)
	}
	// robfig/cron slices the zone up to the first space without checking
	// that there is one, and panics.
	if (strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=")) && !strings.Contains(s, " ") {
		return nil, fmt.Errorf("%q: a zone prefix needs a schedule after it: %s", s, scheduleHint)
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q: not a cron spec: %s", s, scheduleHint)
		}
	}()
	parsed, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %v: %s", s, err, scheduleHint)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%q: @every is relative to when it is asked, not to the clock; use a cron spec like \"0 */6 * * *\"", s)
	}
	if spec.Location == time.Local {
		spec.Location = time.UTC
	}
	if spec.Next(neverRef).IsZero() {
		return nil, fmt.Errorf("%q: never fires (no such date)", s)
	}
	return spec, nil
}

// Len returns the number of windows.
func (w *Windows) Len() int {
	if w == nil {
		return 0
	}
	return len(w.ws)
}

// Open reports whether now is inside a window and, if so, until when (see
// WindowState.Closes). until is zero when closed.
func (w *Windows) Open(now time.Time) (open bool, until time.Time) {
	until = w.closes(now)
	return !until.IsZero(), until
}

// Next returns when the next window opens after now, or, if a window is open
// at now, the start of the earliest occurrence covering now (so
// !Next(now).After(now) means open). It is zero when no window will open.
func (w *Windows) Next(now time.Time) time.Time {
	if w == nil {
		return time.Time{}
	}
	var cover, next time.Time
	for _, x := range w.ws {
		// The first occurrence after now-dur either covers now or, when it
		// starts after now, is also the first one after now.
		a := x.sched.Next(now.Add(-x.dur))
		switch {
		case a.IsZero():
		case !a.After(now):
			cover = earliest(cover, a)
		default:
			next = earliest(next, a)
		}
	}
	if !cover.IsZero() {
		return cover
	}
	return next
}

// State is Open and Next together.
func (w *Windows) State(now time.Time) WindowState {
	closes := w.closes(now)
	return WindowState{Open: !closes.IsZero(), Opens: w.Next(now), Closes: closes}
}

// StateUntil is State(now) together with the instant until which it holds:
// State(t) equals it for every t in [now, until). until is the first instant
// after now at which a window opens or an occurrence covering now ends, the
// only instants where an answer of State can change. It is now itself (an
// empty range: ask again) when there is no window, or when a schedule does not
// fire within five years, so that no bound is known. A caller asking often,
// such as one reconcile pass after another, can keep the state until then:
// two Next calls per window instead of State's chain of openings.
func (w *Windows) StateUntil(now time.Time) (WindowState, time.Time) {
	st := w.State(now)
	if w.Len() == 0 {
		return st, now
	}
	var until time.Time
	for _, x := range w.ws {
		// The next opening, and the end of the earliest occurrence that
		// covers now (or, if none does, of the next one): the set of
		// occurrences in (t-dur, t] is the same for every t before both.
		opens, first := x.sched.Next(now), x.sched.Next(now.Add(-x.dur))
		if opens.IsZero() || first.IsZero() {
			return st, now
		}
		until = earliest(until, earliest(opens, first.Add(x.dur)))
	}
	return st, until
}

// closes returns when the windows open at now close, or zero when none is.
// Cost: per window and round, a few Next calls (O(log) when a schedule fires
// many times within its duration).
func (w *Windows) closes(now time.Time) time.Time {
	if w == nil {
		return time.Time{}
	}
	until := now
	for range maxChain {
		next := until
		for _, x := range w.ws {
			// An occurrence in (until-dur, until] reaches past until. In the
			// first round that means open at now; later, the occurrence
			// starts before or exactly when the previous one ends.
			if a, ok := latest(x.sched, until.Add(-x.dur), until); ok {
				if end := a.Add(x.dur); end.After(next) {
					next = end
				}
			}
		}
		if !next.After(until) {
			break
		}
		until = next
	}
	if !until.After(now) {
		return time.Time{}
	}
	return until
}

// latest returns the latest activation of s in (from, to].
func latest(s *cron.SpecSchedule, from, to time.Time) (time.Time, bool) {
	a := s.Next(from)
	if a.IsZero() || a.After(to) {
		return time.Time{}, false
	}
	// Common case: one or two occurrences in the range.
	prev := from
	for range 3 {
		n := s.Next(a)
		if n.IsZero() || n.After(to) {
			return a, true
		}
		prev, a = a, n
	}
	// Many: binary search between lo, with Next(lo) <= to, and hi, with
	// Next(hi) > to. Activations fall on whole seconds and Next(t) is the
	// first one after t, so once hi-lo <= 1s, Next(lo) is the latest.
	lo, hi := prev, to
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if n := s.Next(mid); !n.IsZero() && !n.After(to) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s.Next(lo), true
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
