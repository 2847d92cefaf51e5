package hosts

import (
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
			f := newTestFleet(subj, Config{})
			var got []rejectReason
			f.onReject = func(r rejectReason, _ string, err error) {
				t.Logf("rejected %s: %v", r, err)
				got = append(got, r)
			}
			f.Ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 5, t0)), t0)
			f.Ingest(subj.Health("mac-01"), encode(t, tt.bad), t0.Add(time.Second))
			var seen time.Time
			for _, h := range tt.then {
				seen = h.CheckedAt.Add(time.Second)
				f.Ingest(subj.Health("mac-01"), encode(t, h), seen)
			}
			hs := f.Get("mac-01")
			if hs.Health.BootID != tt.wantBoot || hs.Health.Seq != tt.wantSeq {
				t.Errorf("Got(stored) = %s/%d, want %s/%d", hs.Health.BootID, hs.Health.Seq, tt.wantBoot, tt.wantSeq)
			}
			if f.Stale(hs, seen) || !hs.LastSeen.Equal(seen) {
				t.Errorf("Got(last seen) = %v, want the last report's %v", hs.LastSeen, seen)
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
	f := newTestFleet(subj, Config{MaxClockSkew: 30 * time.Second})
	var got []rejectReason
	f.onReject = func(r rejectReason, _ string, _ error) { got = append(got, r) }
	if !f.Ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 1, t0.Add(30*time.Second))), t0) {
		t.Errorf("Got(ingest 30s ahead, 30s allowed) = false, want true")
	}
	if f.Ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 2, t0.Add(31*time.Second))), t0) {
		t.Errorf("Got(ingest 31s ahead, 30s allowed) = true, want false")
	}
	if len(got) != 1 || got[0] != rejectClockSkew || f.rejected[rejectClockSkew].Load() != 1 {
		t.Errorf("Got(rejections) = %v, want [clock_skew]", got)
	}
}
