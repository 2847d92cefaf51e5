package hosts

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// TestIngestRefusesMalformedSelfEvents: a host's event about itself, on its
// own subject and with its own payload host, that carries a null seq, a
// non-JSON content type or an envelope naming another host is dropped and
// counted by reason; the host's state keeps its last good event.
func TestIngestRefusesMalformedSelfEvents(t *testing.T) {
	subj, _ := events.NewSubjects("")
	next := encode(t, health("mac-01", "boot-a", 6, t0))
	sub := func(old, new string) []byte {
		if !bytes.Contains(next, []byte(old)) {
			t.Fatalf("event lacks %s", old)
		}
		return bytes.Replace(next, []byte(old), []byte(new), 1)
	}
	for _, tt := range []struct {
		name   string
		data   []byte
		reason rejectReason
	}{
		{"seq null", sub(`"seq":6`, `"seq":null`), rejectValidate},
		{"non-JSON content type", sub(`"datacontenttype":"application/json"`, `"datacontenttype":"text/plain"`), rejectValidate},
		{"envelope subject names another host", sub(`"subject":"mac-01"`, `"subject":"mac-02"`), rejectHostMismatch},
		{"envelope source names another host", sub(`"source":"/vmfleet/agent/mac-01"`, `"source":"/vmfleet/agent/mac-02"`), rejectHostMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFleet(subj, Config{})
			var got []string
			f.onReject = func(r rejectReason, _ string, err error) {
				t.Logf("rejected %s: %v", r, err)
				got = append(got, r.String())
			}
			if !f.Ingest(subj.Health("mac-01"), encode(t, health("mac-01", "boot-a", 5, t0)), t0) {
				t.Fatal("Got(ingest of the first event) = false, want true")
			}
			if f.Ingest(subj.Health("mac-01"), tt.data, t0.Add(time.Second)) {
				t.Error("Got(ingest) = true, want the event refused")
			}
			if diff := cmp.Diff([]string{tt.reason.String()}, got); diff != "" {
				t.Errorf("Got(rejections) diff (-want +got):\n%s", diff)
			}
			if n := f.rejected[tt.reason].Load(); n != 1 {
				t.Errorf("Got(rejected %s) = %d, want 1", tt.reason, n)
			}
			if seq := f.Get("mac-01").Health.Seq; seq != 5 {
				t.Errorf("Got(stored seq) = %d, want 5 (the last good event)", seq)
			}
			// The same event, well formed, is taken.
			if !f.Ingest(subj.Health("mac-01"), next, t0.Add(2*time.Second)) {
				t.Error("Got(ingest of the good event) = false, want true")
			}
		})
	}
}
