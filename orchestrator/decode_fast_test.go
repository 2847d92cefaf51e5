package orchestrator

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// fullHealth is a health event with every field the scanner reads.
func fullHealth() events.HostHealth {
	h := health("mac-01", "boot", 7, t0)
	h.Hostname, h.TartVersion, h.TartError, h.Queue, h.SpecRevision = "mac-01.example.com", "2.35.0", "", "darwin", 12
	h.HeartbeatSeconds = 60
	h.BuildkiteTags = []string{"vm-ready-macos-14=true", "vmfleet-host=mac-01"}
	h.Disk = &events.Disk{Path: "/Users/ci/.tart", FreeBytes: 400 << 30, TotalBytes: 1 << 40}
	h.VMs = append(h.VMs, events.VM{Name: "ci-job-1", Source: "local", State: events.VMRunning, DiskGB: 80, SizeGB: 40, Accessed: t0.Add(-time.Hour)})
	h.Releases[0].Detail = "building"
	return h
}

// TestScanHealth holds the scanner to the contract's decoders: events in the
// shape agents write take the scanner; every other one is left to
// encoding/json, and decodeHealth gives the contract's result either way.
func TestScanHealth(t *testing.T) {
	full := encode(t, fullHealth())
	var indented bytes.Buffer
	if err := json.Indent(&indented, full, "", "\t"); err != nil {
		t.Fatal(err)
	}
	empty := health("mac-01", "boot", 7, t0)
	empty.Releases, empty.VMs, empty.BuildkiteTags = []events.ReleaseStatus{}, []events.VM{}, []string{}
	forced := fullHealth()
	forced.Forced = &events.Forced{State: events.ForcedReady, SetAt: t0}
	negHB := fullHealth()
	negHB.HeartbeatSeconds = -1
	sub := func(old, new string) []byte { return bytes.Replace(full, []byte(old), []byte(new), 1) }
	for _, tc := range []struct {
		name    string
		b       []byte
		scanned bool // the scanner takes it (it may still be invalid)
	}{
		{"as encoded", full, true},
		{"indented", indented.Bytes(), true},
		{"empty arrays", encode(t, empty), true},
		{"negative heartbeat", encode(t, negHB), true},
		{"bad time", sub(`"checked_at":"2025`, `"checked_at":"x2025`), false},
		{"forced", encode(t, forced), false},
		{"unknown field", sub(`"host":`, `"extra":[1,{"a":null}],"host":`), false},
		{"key in another case", sub(`"host":`, `"Host":`), false},
		{"repeated key", sub(`"agent":`, `"host":"mac-02","agent":`), false},
		{"escape", sub(`"agent":"`, `"agent":"\u0041`), false},
		{"non-ASCII", sub(`"agent":"`, `"agent":"é`), false},
		{"null", sub(`"disk":{`, `"tart_error":null,"disk":{`), false},
		{"fraction", sub(`"seq":7`, `"seq":7.0`), false},
		{"exponent", sub(`"seq":7`, `"seq":7e0`), false},
		{"leading zero", sub(`"seq":7`, `"seq":07`), false},
		{"negative seq", sub(`"seq":7`, `"seq":-7`), false},
		{"huge seq", sub(`"seq":7`, `"seq":123456789012345678901`), false},
		{"int overflow", sub(`"heartbeat_seconds":60`, `"heartbeat_seconds":9223372036854775808`), false},
		{"trailing data", append(bytes.Clone(full), `{}`...), false},
		{"truncated", full[:len(full)-1], false},
		{"data not an object", []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.vmfleet.host.health.v1","data":[]}`), false},
		{"no data", []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.vmfleet.host.health.v1"}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, ok := scanHealth(tc.b); ok != tc.scanned {
				t.Errorf("Got(scanHealth ok) = %v, want %v", ok, tc.scanned)
			}
			got, _, err := decodeHealth(tc.b)
			want, werr := contractDecode(tc.b)
			if (err == nil) != (werr == nil) {
				t.Fatalf("Got(decodeHealth error) = %v, want %v", err, werr)
			}
			if err == nil {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Got(decodeHealth) diff (-contract +fast):\n%s", diff)
				}
			} else if classify(err) != classify(werr) {
				t.Errorf("Got(reason) = %s, want %s", classify(err), classify(werr))
			}
		})
	}
}
