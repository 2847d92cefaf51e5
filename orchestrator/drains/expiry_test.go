package drains_test

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
)

// TestExpiries: a drain with a TTL gone from a report checked at or after
// its TTL expired; gone (or replaced) before it, it was resumed; a drain
// without a TTL, a forced ready and a host first seen without its drain
// never expire; Sweep forgets hosts no longer known.
func TestExpiries(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	drain := &events.Forced{State: events.ForcedNotReady, SetAt: t0, SetBy: "alice", Reason: "disk swap", Until: t0.Add(time.Hour)}
	other := &events.Forced{State: events.ForcedNotReady, SetAt: t0.Add(time.Minute), SetBy: "bob", Until: t0.Add(3 * time.Hour)}
	noTTL := &events.Forced{State: events.ForcedNotReady, SetAt: t0, SetBy: "carol"}
	ready := &events.Forced{State: events.ForcedReady, SetAt: t0, Until: t0.Add(time.Hour)}
	report := func(f *events.Forced, at time.Duration) *events.HostHealth {
		return &events.HostHealth{Host: "mac-01", CheckedAt: t0.Add(at), Forced: f}
	}
	tests := []struct {
		name    string
		reports []*events.HostHealth
		want    string // SetBy of the drain the last report ended, "" none
	}{
		{"expired", []*events.HostHealth{report(drain, 0), report(drain, 30*time.Minute), report(nil, time.Hour)}, "alice"},
		{"expired, seen late", []*events.HostHealth{report(drain, 0), report(nil, 5*time.Hour)}, "alice"},
		{"expired, drained again", []*events.HostHealth{report(drain, 0), report(other, 2*time.Hour)}, "alice"},
		{"resumed", []*events.HostHealth{report(drain, 0), report(nil, 59*time.Minute)}, ""},
		{"replaced", []*events.HostHealth{report(drain, 0), report(other, 30*time.Minute)}, ""},
		{"replacement expires", []*events.HostHealth{report(drain, 0), report(other, 30*time.Minute), report(nil, 3*time.Hour)}, "bob"},
		{"announced once", []*events.HostHealth{report(drain, 0), report(nil, time.Hour), report(nil, 2*time.Hour)}, ""},
		{"no TTL", []*events.HostHealth{report(noTTL, 0), report(nil, 5*time.Hour)}, ""},
		{"forced ready", []*events.HostHealth{report(ready, 0), report(nil, 5*time.Hour)}, ""},
		{"first seen after", []*events.HostHealth{report(nil, 5*time.Hour)}, ""},
		{"first seen past its TTL", []*events.HostHealth{report(drain, 2*time.Hour), report(nil, 3*time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x drains.Expiries
			var got *events.Forced
			for _, r := range tt.reports {
				got = x.Observe("mac-01", r)
			}
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("Got(Observe) = %+v, want no expiry", got)
			case tt.want != "" && (got == nil || got.SetBy != tt.want):
				t.Errorf("Got(Observe) = %+v, want %s's drain expired", got, tt.want)
			}
		})
	}

	var x drains.Expiries
	x.Observe("mac-01", report(drain, 0))
	x.Sweep(func(string) bool { return false })
	if got := x.Observe("mac-01", report(nil, 2*time.Hour)); got != nil {
		t.Errorf("Got(Observe after Sweep) = %+v, want the forgotten host's drain forgotten", got)
	}
	ev := drains.Expired("mac-01", drain, t0.Add(2*time.Hour))
	if ev.Action != events.DrainActionExpire || ev.By != "alice" || ev.Reason != "disk swap" || !ev.Until.Equal(drain.Until) || ev.Was != drain || ev.Validate() != nil {
		t.Errorf("Got(Expired) = %+v, want a valid expire of alice's drain", ev)
	}
}
