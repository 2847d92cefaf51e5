package events

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the time of the test reports.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// health is a valid health report of host: release 13 ready, 14 missing.
func health(host, boot string, seq uint64, at time.Time) HostHealth {
	im := ImageSpec{NameTemplate: DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	return HostHealth{
		Host: host, Hostname: host + ".local", Agent: "vmfleet-agent", BootID: boot, Seq: seq, CheckedAt: at,
		HeartbeatSeconds: 60, TartVersion: "2.22.0",
		Releases: []ReleaseStatus{
			{Release: "13", ExpectedImage: im.ImageName("13"), Ready: true, Reason: ReasonReady, Bun: "1.2.16", Bootstrap: "3.6"},
			{Release: "14", ExpectedImage: im.ImageName("14"), Reason: ReasonImageMissing, Bun: "1.2.16", Bootstrap: "3.6"},
		},
		VMs: []VM{
			{Name: im.ImageName("13"), Source: "local", State: "stopped", DiskGB: 80, SizeGB: 40, Accessed: at},
			{Name: "bun-build-macos-13-1.2.15-bootstrap-3.5", Source: "local", State: "stopped", DiskGB: 80, SizeGB: 40},
			{Name: "ghcr.io/cirruslabs/macos-sonoma-base:latest", Source: "oci", State: "stopped", DiskGB: 50, SizeGB: 25},
		},
		Disk:          &Disk{Path: "/Users/ci/.tart", FreeBytes: 100 << 30, TotalBytes: 500 << 30},
		BuildkiteTags: []string{"vm-ready-macos-13=true", "vm-ready-macos-14=false", "vmfleet-host=" + host},
	}
}

func encode(t testing.TB, h HostHealth) []byte {
	t.Helper()
	b, err := Encode(TypeHostHealth, "/vmfleet/agent/"+h.Host, h.Host, h.MsgID(), h.CheckedAt, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fullHealth is a health event with every field the scanner reads.
func fullHealth() HostHealth {
	h := health("mac-01", "boot", 7, t0)
	h.Hostname, h.TartVersion, h.TartError, h.Queue, h.SpecRevision = "mac-01.example.com", "2.35.0", "", "darwin", 12
	h.HeartbeatSeconds = 60
	h.BuildkiteTags = []string{"vm-ready-macos-14=true", "vmfleet-host=mac-01"}
	h.Disk = &Disk{Path: "/Users/ci/.tart", FreeBytes: 400 << 30, TotalBytes: 1 << 40}
	h.VMs = append(h.VMs, VM{Name: "ci-job-1", Source: "local", State: VMRunning, DiskGB: 80, SizeGB: 40, Accessed: t0.Add(-time.Hour)})
	h.Releases[0].Detail = "building"
	return h
}

// TestScanHealth holds the scanner to the contract's decoders: events in the
// shape agents write take the scanner; every other one is left to
// encoding/json, and DecodeHealth gives the contract's result either way.
func TestScanHealth(t *testing.T) {
	full := encode(t, fullHealth())
	var indented bytes.Buffer
	if err := json.Indent(&indented, full, "", "\t"); err != nil {
		t.Fatal(err)
	}
	empty := health("mac-01", "boot", 7, t0)
	empty.Releases, empty.VMs, empty.BuildkiteTags = []ReleaseStatus{}, []VM{}, []string{}
	forced := fullHealth()
	forced.Forced = &Forced{State: ForcedReady, SetAt: t0}
	negHB := fullHealth()
	negHB.HeartbeatSeconds = -1
	staged := fullHealth()
	staged.NextRevision = 13
	staged.Staged = []ReleaseStatus{{Release: "14", ExpectedImage: "bun-build-macos-14-1.2.16-bootstrap-3.7", Reason: ReasonNoSpace, Detail: "needs 40 GB", Bun: "1.2.16", Bootstrap: "3.7"}}
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
		{"a staged spec", encode(t, staged), true},
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
			got, _, err := DecodeHealth(tc.b)
			want, werr := contractDecode(tc.b)
			if (err == nil) != (werr == nil) {
				t.Fatalf("Got(DecodeHealth error) = %v, want %v", err, werr)
			}
			if err == nil {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Got(DecodeHealth) diff (-contract +fast):\n%s", diff)
				}
			} else if err.Error() != werr.Error() {
				t.Errorf("Got(DecodeHealth error) = %v, want the contract's %v", err, werr)
			}
		})
	}
}

// contractDecode is the contract's own decoding, which DecodeHealth must equal.
func contractDecode(b []byte) (*HostHealth, error) {
	env, err := Decode(b)
	if err != nil {
		return nil, err
	}
	h, err := DecodeData[HostHealth](env, TypeHostHealth)
	if err != nil {
		return nil, err
	}
	return &h, nil
}

func FuzzDecodeHealth(f *testing.F) {
	good := encode(f, health("mac-01", "b", 1, t0))
	f.Add(good)
	f.Add(encode(f, fullHealth())) // every field the scanner reads
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.vmfleet.host.health.v1","data":{}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.vmfleet.host.health.v1","data":null}`))
	f.Add([]byte(`{"specversion":"0.3","data":{"host":"a"}}`))
	f.Add(bytes.Replace(good, []byte(`"seq":1`), []byte(`"seq":-1`), 1))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := DecodeHealth(b)
		want, werr := contractDecode(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Got(DecodeHealth error) = %v, want %v", err, werr)
		}
		if err != nil {
			if err.Error() != werr.Error() {
				t.Fatalf("Got(DecodeHealth error) = %v, want the contract's %v", err, werr)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Got(DecodeHealth) diff (-contract +fast):\n%s", diff)
		}
	})
}

// BenchmarkDecodeHealth is one health event (2 releases, 4 VMs, disk, tags)
// decoded by the scanner that ingest uses and by the one-pass encoding/json
// decoder it falls back to, on one core.
func BenchmarkDecodeHealth(b *testing.B) {
	data := encode(b, fullHealth())
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := scanHealth(data); !ok {
				b.Fatal("not scanned")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := decodeHealthOnePass(data); !ok {
				b.Fatal("not decoded")
			}
		}
	})
}
