package prunes

import (
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var t0 = orchtest.T0

func TestOutcomeLogRings(t *testing.T) {
	l := NewOutcomeLog()
	for i := range RecentPerHost + 3 {
		l.Add(events.PruneOutcome{Host: "mac-01", VM: string(rune('a' + i%26)), At: t0.Add(time.Duration(i) * time.Second)})
	}
	l.Add(events.PruneOutcome{Host: "mac-02", VM: "z", At: t0.Add(time.Hour)})
	got := l.Host("mac-01")
	if len(got) != RecentPerHost || !got[0].At.Equal(t0.Add(time.Duration(RecentPerHost+2)*time.Second)) || !got[len(got)-1].At.Equal(t0.Add(3*time.Second)) {
		t.Errorf("Got(mac-01 ring) = %d entries, first %s, last %s; want %d, newest first", len(got), got[0].At, got[len(got)-1].At, RecentPerHost)
	}
	if all := l.All(); len(all) != RecentPerHost+4 || all[0].Host != "mac-02" {
		t.Errorf("Got(fleet ring) = %d entries, first %+v; want %d, mac-02 first", len(all), all[0], RecentPerHost+4)
	}
	if got := l.Host("mac-03"); got != nil {
		t.Errorf("Got(unknown host) = %v, want nil", got)
	}
}
