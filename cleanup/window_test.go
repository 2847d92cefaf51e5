package cleanup

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

func win(schedule string, d time.Duration) events.Window {
	return events.Window{Schedule: schedule, Duration: events.Duration(d)}
}

func mustWindows(t testing.TB, ws ...events.Window) *Windows {
	t.Helper()
	w, err := ParseWindows(ws)
	if err != nil {
		t.Fatalf("ParseWindows(%v) = %v", ws, err)
	}
	return w
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// state builds a WindowState from RFC 3339 UTC times ("" for zero).
func state(open bool, opens, closes string) WindowState {
	st := WindowState{Open: open}
	if opens != "" {
		st.Opens = utc(opens)
	}
	if closes != "" {
		st.Closes = utc(closes)
	}
	return st
}

func TestWindowsState(t *testing.T) {
	t.Parallel()
	const (
		ny     = "CRON_TZ=America/New_York "
		berlin = "CRON_TZ=Europe/Berlin "
	)
	daily := win("0 2 * * *", 4*time.Hour)
	tests := []struct {
		name string
		ws   []events.Window
		now  string
		want WindowState
	}{
		{"no windows: never open", nil, "2025-06-10T02:00:00Z", state(false, "", "")},
		{"before the window", []events.Window{daily}, "2025-06-10T01:59:59Z", state(false, "2025-06-10T02:00:00Z", "")},
		{"at the opening instant", []events.Window{daily}, "2025-06-10T02:00:00Z", state(true, "2025-06-10T02:00:00Z", "2025-06-10T06:00:00Z")},
		{"just before it closes", []events.Window{daily}, "2025-06-10T05:59:59.999Z", state(true, "2025-06-10T02:00:00Z", "2025-06-10T06:00:00Z")},
		{"at the closing instant: closed", []events.Window{daily}, "2025-06-10T06:00:00Z", state(false, "2025-06-11T02:00:00Z", "")},
		{"overnight window opened yesterday", []events.Window{win("0 22 * * *", 4*time.Hour)}, "2025-06-11T01:00:00Z", state(true, "2025-06-10T22:00:00Z", "2025-06-11T02:00:00Z")},
		{"descriptor", []events.Window{win("@daily", time.Hour)}, "2025-06-10T00:30:00Z", state(true, "2025-06-10T00:00:00Z", "2025-06-10T01:00:00Z")},
		{"two windows chain", []events.Window{win("0 0 * * *", time.Hour), win("0 1 * * *", time.Hour)}, "2025-06-10T00:30:00Z", state(true, "2025-06-10T00:00:00Z", "2025-06-10T02:00:00Z")},
		{"second of two chained windows", []events.Window{win("0 0 * * *", time.Hour), win("0 1 * * *", time.Hour)}, "2025-06-10T01:30:00Z", state(true, "2025-06-10T01:00:00Z", "2025-06-10T02:00:00Z")},
		{"overlapping windows", []events.Window{win("0 0 * * *", 3*time.Hour), win("0 1 * * *", time.Hour)}, "2025-06-10T01:30:00Z", state(true, "2025-06-10T00:00:00Z", "2025-06-10T03:00:00Z")},

		{"Berlin winter (CET)", []events.Window{win(berlin+"0 2 * * *", 2*time.Hour)}, "2025-01-15T01:30:00Z", state(true, "2025-01-15T01:00:00Z", "2025-01-15T03:00:00Z")},
		{"Berlin summer (CEST)", []events.Window{win(berlin+"0 2 * * *", 2*time.Hour)}, "2025-07-15T00:30:00Z", state(true, "2025-07-15T00:00:00Z", "2025-07-15T02:00:00Z")},
		{"Berlin summer, closed", []events.Window{win(berlin+"0 2 * * *", 2*time.Hour)}, "2025-07-15T02:00:00Z", state(false, "2025-07-16T00:00:00Z", "")},
		{"TZ= prefix", []events.Window{win("TZ=America/New_York 0 1 * * *", 2*time.Hour)}, "2025-06-10T06:00:00Z", state(true, "2025-06-10T05:00:00Z", "2025-06-10T07:00:00Z")},

		// America/New_York springs forward on 2025-03-09 at 07:00Z (02:00 EST -> 03:00 EDT).
		{"NY spring-forward: start in the skipped hour does not open", []events.Window{win(ny+"30 2 * * *", time.Hour)}, "2025-03-09T07:45:00Z", state(false, "2025-03-10T06:30:00Z", "")},
		{"NY spring-forward: the day before", []events.Window{win(ny+"30 2 * * *", time.Hour)}, "2025-03-08T07:45:00Z", state(true, "2025-03-08T07:30:00Z", "2025-03-08T08:30:00Z")},
		{"NY spring-forward: duration is elapsed time across the jump", []events.Window{win(ny+"0 1 * * *", 2*time.Hour)}, "2025-03-09T07:30:00Z", state(true, "2025-03-09T06:00:00Z", "2025-03-09T08:00:00Z")},
		{"NY spring-forward: just after the jump", []events.Window{win(ny+"0 3 * * *", time.Hour)}, "2025-03-09T07:00:00Z", state(true, "2025-03-09T07:00:00Z", "2025-03-09T08:00:00Z")},
		// It falls back on 2025-11-02 at 06:00Z (02:00 EDT -> 01:00 EST): 01:30 happens twice.
		{"NY fall-back: first 01:30 (EDT), chained to the second", []events.Window{win(ny+"30 1 * * *", time.Hour)}, "2025-11-02T05:45:00Z", state(true, "2025-11-02T05:30:00Z", "2025-11-02T07:30:00Z")},
		{"NY fall-back: second 01:30 (EST)", []events.Window{win(ny+"30 1 * * *", time.Hour)}, "2025-11-02T06:45:00Z", state(true, "2025-11-02T06:30:00Z", "2025-11-02T07:30:00Z")},
		{"NY fall-back: after both", []events.Window{win(ny+"30 1 * * *", time.Hour)}, "2025-11-02T07:30:00Z", state(false, "2025-11-03T06:30:00Z", "")},
		{"NY fall-back: 02:00 happens once (EST)", []events.Window{win(ny+"0 2 * * *", time.Hour)}, "2025-11-02T06:30:00Z", state(false, "2025-11-02T07:00:00Z", "")},

		// Europe/Berlin springs forward on 2025-03-30 at 01:00Z and falls back on 2025-10-26 at 01:00Z.
		{"Berlin spring-forward: 02:00 does not exist", []events.Window{win(berlin+"0 2 * * *", 3*time.Hour)}, "2025-03-30T01:30:00Z", state(false, "2025-03-31T00:00:00Z", "")},
		{"Berlin fall-back: first 02:00 (CEST)", []events.Window{win(berlin+"0 2 * * *", 30*time.Minute)}, "2025-10-26T00:15:00Z", state(true, "2025-10-26T00:00:00Z", "2025-10-26T00:30:00Z")},
		{"Berlin fall-back: between the two 02:00s", []events.Window{win(berlin+"0 2 * * *", 30*time.Minute)}, "2025-10-26T00:45:00Z", state(false, "2025-10-26T01:00:00Z", "")},
		{"Berlin fall-back: second 02:00 (CET)", []events.Window{win(berlin+"0 2 * * *", 30*time.Minute)}, "2025-10-26T01:10:00Z", state(true, "2025-10-26T01:00:00Z", "2025-10-26T01:30:00Z")},
		{"half-hour zone", []events.Window{win("CRON_TZ=Asia/Kolkata 0 3 * * *", time.Hour)}, "2025-06-09T21:45:00Z", state(true, "2025-06-09T21:30:00Z", "2025-06-09T22:30:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := mustWindows(t, tt.ws...)
			now := utc(tt.now)
			got := w.State(now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(State(%s)) = %+v, want %+v (-want +got):\n%s", tt.now, got, tt.want, diff)
			}
			open, until := w.Open(now)
			if open != tt.want.Open || !until.Equal(tt.want.Closes) {
				t.Errorf("Got(Open(%s)) = %v, %v, want %v, %v", tt.now, open, until, tt.want.Open, tt.want.Closes)
			}
			if next := w.Next(now); !next.Equal(tt.want.Opens) {
				t.Errorf("Got(Next(%s)) = %v, want %v", tt.now, next, tt.want.Opens)
			}
		})
	}
}

func TestWindowsIgnoreTheZoneOfNow(t *testing.T) {
	t.Parallel()
	w := mustWindows(t, win("0 2 * * *", 4*time.Hour))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := utc("2025-06-10T02:30:00Z")
	want := w.State(now)
	got := w.State(now.In(ny))
	if !got.Open || !got.Opens.Equal(want.Opens) || !got.Closes.Equal(want.Closes) {
		t.Errorf("Got(State(%v)) = %+v, want %+v (a schedule without a zone runs in UTC)", now.In(ny), got, want)
	}
}

func TestWindowsAlwaysOpen(t *testing.T) {
	t.Parallel()
	now := utc("2025-06-10T12:02:30Z")
	for _, ws := range [][]events.Window{
		{win("* * * * *", time.Minute)},
		{win("*/5 * * * *", 6*time.Hour)},
		{win("@hourly", time.Hour)},
	} {
		got := mustWindows(t, ws...).State(now)
		// Closes is a lower bound after 64 chained occurrences.
		if !got.Open || got.Opens.After(now) || got.Closes.Before(now.Add(time.Hour)) {
			t.Errorf("Got(State(%v)) for %v = %+v, want open since before now, closing after %v", now, ws, got, now.Add(time.Hour))
		}
	}
}

func TestWindowsNil(t *testing.T) {
	t.Parallel()
	var w *Windows
	now := utc("2025-06-10T12:00:00Z")
	if got := w.State(now); got != (WindowState{}) {
		t.Errorf("Got(nil.State(%v)) = %+v, want zero", now, got)
	}
	if got := w.Len(); got != 0 {
		t.Errorf("Got(nil.Len()) = %d, want 0", got)
	}
}

func TestParseWindowsErrors(t *testing.T) {
	t.Parallel()
	ok := win("0 2 * * *", time.Hour)
	tests := []struct {
		name  string
		bad   events.Window
		field string
	}{
		{"six fields", win("0 0 2 * * *", time.Hour), "cleanup.windows[1].schedule"},
		{"minute out of range", win("61 * * * *", time.Hour), "cleanup.windows[1].schedule"},
		{"empty", win("  ", time.Hour), "cleanup.windows[1].schedule"},
		{"garbage", win("sometimes", time.Hour), "cleanup.windows[1].schedule"},
		{"@every is not anchored", win("@every 1h", time.Hour), "cleanup.windows[1].schedule"},
		{"zone without a schedule (robfig panics)", win("CRON_TZ=Europe/Berlin", time.Hour), "cleanup.windows[1].schedule"},
		{"unknown zone", win("CRON_TZ=Nowhere/City 0 2 * * *", time.Hour), "cleanup.windows[1].schedule"},
		{"date that never comes", win("0 0 31 2 *", time.Hour), "cleanup.windows[1].schedule"},
		{"zero duration", win("0 2 * * *", 0), "cleanup.windows[1].duration"},
		{"negative duration", win("0 2 * * *", -time.Hour), "cleanup.windows[1].duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := ParseWindows([]events.Window{ok, tt.bad})
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Got(ParseWindows(%v)) = %v, %v, want a FieldError on %s", tt.bad, w, err, tt.field)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestParseWindowsAccepts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0 2 * * *", "@daily", "@weekly", "@midnight", "CRON_TZ=Europe/Berlin @daily", "TZ=UTC 0 */6 * * 1-5", "0 2 29 2 *", "CRON_TZ=Local 0 2 * * *"} {
		if _, err := ParseWindows([]events.Window{win(s, time.Hour)}); err != nil {
			t.Errorf("Got(ParseWindows(%q)) = %v, want nil", s, err)
		}
	}
}

func TestStateUntil(t *testing.T) {
	t.Parallel()
	daily := win("0 2 * * *", 4*time.Hour)
	tests := []struct {
		name  string
		ws    []events.Window
		now   string
		until string // "" for now itself
	}{
		{"no windows: no bound", nil, "2025-06-10T02:00:00Z", ""},
		{"closed: until the opening", []events.Window{daily}, "2025-06-10T01:00:00Z", "2025-06-10T02:00:00Z"},
		{"open: until the occurrence ends", []events.Window{daily}, "2025-06-10T03:00:00Z", "2025-06-10T06:00:00Z"},
		{"always open, chained: until the next opening moves the state on", []events.Window{win("* * * * *", time.Minute)}, "2025-06-10T03:00:20.5Z", "2025-06-10T03:01:00Z"},
		{"overlapping: until the first covering occurrence ends", []events.Window{win("0 * * * *", 90*time.Minute)}, "2025-06-10T03:10:00Z", "2025-06-10T03:30:00Z"},
		{"two windows: the earlier change", []events.Window{daily, win("CRON_TZ=Europe/Berlin 0 5 * * *", time.Hour)}, "2025-06-10T02:30:00Z", "2025-06-10T03:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := mustWindows(t, tt.ws...)
			now := utc(tt.now)
			want := now
			if tt.until != "" {
				want = utc(tt.until)
			}
			st, until := w.StateUntil(now)
			if diff := cmp.Diff(w.State(now), st); diff != "" {
				t.Errorf("Got(StateUntil(%v)) differs from State (-State +StateUntil):\n%s", now, diff)
			}
			if !until.Equal(want) {
				t.Errorf("Got(StateUntil(%v) until) = %v, want %v", now, until, want)
			}
		})
	}
}
