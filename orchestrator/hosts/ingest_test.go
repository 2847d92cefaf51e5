package hosts

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

func TestIngest(t *testing.T) {
	subj, _ := events.NewSubjects("")
	stored := health("mac-01", "boot-a", 5, t0)
	newerBoot := health("mac-01", "boot-b", 1, t0.Add(time.Minute))
	olderBoot := health("mac-01", "boot-c", 9, t0.Add(-time.Minute))
	noBoot := health("mac-01", "", 6, t0)
	envOnly, _ := events.Encode(events.TypeHostHealth, "/x", "mac-01", "", t0, map[string]any{"host": "mac-01", "seq": "six"})
	wrongType, _ := events.Encode(events.TypePrune, "/x", "mac-01", "", t0, health("mac-01", "boot-a", 6, t0))
	nullData := []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"` + events.TypeHostHealth + `","data":null}`)
	tests := []struct {
		name    string
		subject string
		data    []byte
		reason  rejectReason // numRejectReasons: none
		dup     bool
		wantSeq uint64
	}{
		{name: "next sequence", subject: subj.Health("mac-01"), data: encode(t, health("mac-01", "boot-a", 6, t0)), reason: numRejectReasons, wantSeq: 6},
		{name: "same event again", subject: subj.Health("mac-01"), data: encode(t, stored), reason: numRejectReasons, dup: true, wantSeq: 5},
		{name: "older sequence", subject: subj.Health("mac-01"), data: encode(t, health("mac-01", "boot-a", 4, t0)), reason: rejectStaleSeq, wantSeq: 5},
		{name: "new boot", subject: subj.Health("mac-01"), data: encode(t, newerBoot), reason: numRejectReasons, wantSeq: 1},
		{name: "late event of an older boot", subject: subj.Health("mac-01"), data: encode(t, olderBoot), reason: rejectStaleSeq, wantSeq: 5},
		{name: "payload host differs from subject", subject: subj.Health("mac-02"), data: encode(t, health("mac-01", "boot-a", 6, t0)), reason: rejectHostMismatch, wantSeq: 5},
		{name: "subject not a health subject", subject: "vmfleet.host.mac-01", data: encode(t, health("mac-01", "boot-a", 6, t0)), reason: rejectHostMismatch, wantSeq: 5},
		{name: "not JSON", subject: subj.Health("mac-01"), data: []byte("{not json"), reason: rejectDecode, wantSeq: 5},
		{name: "data of the wrong shape", subject: subj.Health("mac-01"), data: envOnly, reason: rejectDecode, wantSeq: 5},
		{name: "null data", subject: subj.Health("mac-01"), data: nullData, reason: rejectValidate, wantSeq: 5},
		{name: "missing boot id", subject: subj.Health("mac-01"), data: encode(t, noBoot), reason: rejectValidate, wantSeq: 5},
		{name: "wrong event type", subject: subj.Health("mac-01"), data: wrongType, reason: rejectValidate, wantSeq: 5},
		{name: "oversized", subject: subj.Health("mac-01"), data: bytes.Repeat([]byte(" "), events.MaxEventBytes+1), reason: rejectOversized, wantSeq: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFleet(subj, Config{})
			var got []rejectReason
			f.onReject = func(r rejectReason, _ string, err error) {
				if err == nil {
					t.Errorf("Got(reject error) = nil, want a cause")
				}
				got = append(got, r)
			}
			if !f.Ingest(subj.Health("mac-01"), encode(t, stored), t0) {
				t.Fatalf("Got(ingest stored) = false, want true")
			}
			ok := f.Ingest(tt.subject, tt.data, t0.Add(time.Second))
			if want := tt.reason == numRejectReasons && !tt.dup; ok != want {
				t.Errorf("Got(ingest) = %v, want %v", ok, want)
			}
			if got := f.duplicates.Load() == 1; got != tt.dup {
				t.Errorf("Got(duplicate) = %v, want %v", got, tt.dup)
			}
			if got := f.Get("mac-01").LastSeen; tt.dup && !got.Equal(t0.Add(time.Second)) {
				t.Errorf("Got(last seen after a duplicate) = %v, want it refreshed", got)
			}
			var want []rejectReason
			if tt.reason != numRejectReasons {
				want = []rejectReason{tt.reason}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Got(rejections) diff (-want +got):\n%s", diff)
			}
			if got := f.Get("mac-01").Health.Seq; got != tt.wantSeq {
				t.Errorf("Got(stored seq) = %d, want %d", got, tt.wantSeq)
			}
			if n := f.received.Load(); n != 2 {
				t.Errorf("Got(received) = %d, want 2", n)
			}
		})
	}
}

func TestIngestMarksDirty(t *testing.T) {
	subj, _ := events.NewSubjects("")
	f := newTestFleet(subj, Config{})
	for i, h := range []string{"mac-01", "mac-02", "mac-01"} {
		f.Ingest(subj.Health(h), encode(t, health(h, "b", uint64(i+1), t0)), t0)
	}
	select {
	case <-f.Wake():
	default:
		t.Errorf("Got(wake) = none, want one")
	}
	select {
	case <-f.Wake():
		t.Errorf("Got(second wake) = one, want a burst to be one wake-up")
	default:
	}
	got := f.TakeDirty()
	if diff := cmp.Diff([]string{"mac-01", "mac-02"}, got, cmpSorted); diff != "" {
		t.Errorf("Got(dirty) diff (-want +got):\n%s", diff)
	}
	if got := f.TakeDirty(); got != nil {
		t.Errorf("Got(dirty again) = %v, want nil", got)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestStale(t *testing.T) {
	subj, _ := events.NewSubjects("")
	f := newTestFleet(subj, Config{DefaultHeartbeat: 90 * time.Second})
	tests := []struct {
		name      string
		heartbeat int
		age       time.Duration
		want      bool
	}{
		{name: "fresh", heartbeat: 60, age: 179 * time.Second, want: false},
		{name: "three heartbeats", heartbeat: 60, age: 180 * time.Second, want: true},
		{name: "default heartbeat, fresh", heartbeat: 0, age: 269 * time.Second, want: false},
		{name: "default heartbeat, stale", heartbeat: 0, age: 270 * time.Second, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := health("mac-01", "b", 1, t0)
			h.HeartbeatSeconds = tt.heartbeat
			if got := f.Stale(&State{Health: &h, LastSeen: t0}, t0.Add(tt.age)); got != tt.want {
				t.Errorf("Got(stale after %v) = %v, want %v", tt.age, got, tt.want)
			}
		})
	}
}

// TestIngestTakesUnknownReasonsAsNotReady: a newer agent's reason is not a
// rejected event but a release (and so a host) that is not ready, counted.
func TestIngestTakesUnknownReasonsAsNotReady(t *testing.T) {
	subj, _ := events.NewSubjects("")
	f := newTestFleet(subj, Config{})
	h := health("mac-01", "b", 1, t0)
	h.Ready = true
	h.Releases[0].Reason, h.Releases[0].Ready = "disk_full", true
	h.Releases[1].Reason, h.Releases[1].Ready = events.ReasonReady, true
	if !f.Ingest(subj.Health("mac-01"), encode(t, h), t0) {
		t.Fatalf("Got(ingest of an unknown reason) = rejected, want taken")
	}
	got := f.Get("mac-01")
	if got == nil || got.Health.Ready || got.Health.Releases[0].Ready || got.Health.Releases[0].Reason != "disk_full" || !got.Health.Releases[1].Ready {
		t.Errorf("Got(host) = %+v, want release 13 (disk_full) and the host not ready, release 14 ready", got)
	}
	if n := f.unknownReasons.Load(); n != 1 {
		t.Errorf("Got(unknown reasons counted) = %d, want 1", n)
	}
}
