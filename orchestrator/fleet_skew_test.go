package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// TestIngestOneBadEventLocksNoHostOut: an event dated a day ahead, or with a
// huge sequence number, must not make the host's later honest reports
// rejected.
func TestIngestOneBadEventLocksNoHostOut(t *testing.T) {
	subj, _ := events.NewSubjects("")
	hb := time.Minute // orchtest.Health's heartbeat_seconds
	tests := []struct {
		name string
		bad  events.HostHealth
		// then are the honest reports after it, each seen one heartbeat later.
		then       []events.HostHealth
		wantReject []rejectReason
		wantBoot   string
		wantSeq    uint64
	}{{
		name:       "checked a day ahead, then the same boot goes on",
		bad:        health("mac-01", "boot-a", 1000, t0.Add(24*time.Hour)),
		then:       []events.HostHealth{health("mac-01", "boot-a", 6, t0.Add(hb)), health("mac-01", "boot-a", 7, t0.Add(2*hb))},
		wantReject: []rejectReason{rejectClockSkew},
		wantBoot:   "boot-a", wantSeq: 7,
	}, {
		name:       "checked a day ahead in a forged boot, then the agent restarts",
		bad:        health("mac-01", "forged", 1, t0.Add(24*time.Hour)),
		then:       []events.HostHealth{health("mac-01", "boot-b", 1, t0.Add(hb))},
		wantReject: []rejectReason{rejectClockSkew},
		wantBoot:   "boot-b", wantSeq: 1,
	}, {
		name:     "a huge seq dated ahead within the skew, then the agent restarts",
		bad:      health("mac-01", "forged", 1<<63, t0.Add(4*time.Minute)),
		then:     []events.HostHealth{health("mac-01", "boot-b", 1, t0.Add(hb))},
		wantBoot: "boot-b", wantSeq: 1,
	}, {
		name: "a huge seq in the host's boot: taken again once stale",
		bad:  health("mac-01", "boot-a", 1<<63, t0),
		then: []events.HostHealth{health("mac-01", "boot-a", 6, t0.Add(hb)), health("mac-01", "boot-a", 7, t0.Add(2*hb)),
			health("mac-01", "boot-a", 8, t0.Add(3*hb)), health("mac-01", "boot-a", 9, t0.Add(4*hb))},
		wantReject: []rejectReason{rejectStaleSeq, rejectStaleSeq},
		wantBoot:   "boot-a", wantSeq: 9,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFleet(subj, 3, time.Minute)
			var got []rejectReason
			f.onReject = func(r rejectReason, _ string, err error) {
				t.Logf("rejected %s: %v", r, err)
				got = append(got, r)
			}
			f.ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 5, t0)), t0)
			f.ingest(subj.Health("mac-01"), encode(t, tt.bad), t0.Add(time.Second))
			var seen time.Time
			for _, h := range tt.then {
				seen = h.CheckedAt.Add(time.Second)
				f.ingest(subj.Health("mac-01"), encode(t, h), seen)
			}
			hs := f.get("mac-01")
			if hs.h.BootID != tt.wantBoot || hs.h.Seq != tt.wantSeq {
				t.Errorf("Got(stored) = %s/%d, want %s/%d", hs.h.BootID, hs.h.Seq, tt.wantBoot, tt.wantSeq)
			}
			if f.stale(hs, seen) || !hs.lastSeen.Equal(seen) {
				t.Errorf("Got(last seen) = %v, want the last report's %v", hs.lastSeen, seen)
			}
			if len(got) != len(tt.wantReject) {
				t.Fatalf("Got(rejections) = %v, want %v", got, tt.wantReject)
			}
			for i := range got {
				if got[i] != tt.wantReject[i] {
					t.Errorf("Got(rejections) = %v, want %v", got, tt.wantReject)
				}
			}
		})
	}
}

func TestIngestClockSkewBound(t *testing.T) {
	subj, _ := events.NewSubjects("")
	f := newFleet(subj, 3, time.Minute)
	f.maxSkew = 30 * time.Second
	var got []rejectReason
	f.onReject = func(r rejectReason, _ string, _ error) { got = append(got, r) }
	if !f.ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 1, t0.Add(30*time.Second))), t0) {
		t.Errorf("Got(ingest 30s ahead, 30s allowed) = false, want true")
	}
	if f.ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 2, t0.Add(31*time.Second))), t0) {
		t.Errorf("Got(ingest 31s ahead, 30s allowed) = true, want false")
	}
	if len(got) != 1 || got[0] != rejectClockSkew || f.rejected[rejectClockSkew].Load() != 1 {
		t.Errorf("Got(rejections) = %v, want [clock_skew]", got)
	}
}

func TestConfigMaxClockSkew(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 25 * time.Hour} {
		_, err := Config{MaxClockSkew: d, Spec: events.Spec{Images: testImages()}}.withDefaults()
		if err == nil || !containsAll(err.Error(), "hosts.max_clock_skew", "e.g. 5m") {
			t.Errorf("Got(withDefaults(MaxClockSkew %s)) = %v, want an error naming hosts.max_clock_skew", d, err)
		}
	}
	c, err := Config{Spec: events.Spec{Images: testImages()}}.withDefaults()
	if err != nil || c.MaxClockSkew != 5*time.Minute {
		t.Errorf("Got(default MaxClockSkew) = %s, %v, want 5m", c.MaxClockSkew, err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
