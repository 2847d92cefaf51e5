package events

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleHealth() HostHealth {
	return HostHealth{
		Host: "mac-01", Agent: "vmfleet-agent", BootID: "b1", Seq: 7,
		CheckedAt: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC), HeartbeatSeconds: 60,
		Releases: []ReleaseStatus{{Release: "14", ExpectedImage: "bun-build-macos-14-1.2.16-bootstrap-3.6", Ready: true, Reason: ReasonReady, Bun: "1.2.16", Bootstrap: "3.6"}},
		VMs:      []VM{{Name: "bun-build-macos-14-1.2.16-bootstrap-3.6", Source: "local", State: VMStopped, DiskGB: 50, SizeGB: 22}},
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	h := sampleHealth()
	b, err := Encode(TypeHostHealth, "vmfleet/agent/mac-01", "mac-01", h.MsgID(), h.CheckedAt, h)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if env.SpecVersion != "1.0" || env.ID != "mac-01/b1/7" || env.Type != TypeHostHealth {
		t.Errorf("Got(envelope) = %+v, want specversion 1.0, id mac-01/b1/7, type %s", env, TypeHostHealth)
	}
	got, err := DecodeData[HostHealth](env, TypeHostHealth)
	if err != nil {
		t.Fatalf("DecodeData: %v", err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	t.Parallel()
	b := []byte(`{"specversion":"1.0","id":"x","source":"s","type":"dev.vmfleet.host.health.v1","future":1,
	"data":{"host":"mac-01","boot_id":"b","checked_at":"2026-11-26T00:00:00Z","releases":[],"vms":[],"new_field":{"a":1}}}`)
	env, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeData[HostHealth](env, TypeHostHealth); err != nil {
		t.Errorf("Got(DecodeData) error = %v, want unknown fields ignored", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := `"id":"x","source":"s","type":"dev.vmfleet.host.health.v1"`
	tests := []struct {
		name, in, field string
	}{
		{"not json", `{{`, "envelope"},
		{"wrong specversion", `{"specversion":"0.3",` + valid + `,"data":{}}`, "specversion"},
		{"no id", `{"specversion":"1.0","source":"s","type":"t","data":{}}`, "id"},
		{"no data", `{"specversion":"1.0",` + valid + `}`, "data"},
		{"null data", `{"specversion":"1.0",` + valid + `,"data":null}`, "data"},
		{"array", `[1,2]`, "envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Errorf("Got(Decode) error = %v, want a FieldError on %q", err, tt.field)
			}
		})
	}
	if _, err := Decode(bytes.Repeat([]byte("a"), MaxEventBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Got(Decode(oversized)) error = %v, want ErrTooLarge", err)
	}
}

func TestDecodeDataValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(*HostHealth)
		field string
	}{
		{"bad host", func(h *HostHealth) { h.Host = "a.b" }, "host"},
		{"no boot id", func(h *HostHealth) { h.BootID = "" }, "boot_id"},
		{"bad reason", func(h *HostHealth) { h.Releases[0].Reason = "May be!" }, "releases[0].reason"},
		{"bad release", func(h *HostHealth) { h.Releases[0].Release = "" }, "releases[0].release"},
		{"nameless vm", func(h *HostHealth) { h.VMs[0].Name = "" }, "vms[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sampleHealth()
			tt.mod(&h)
			b, err := Encode(TypeHostHealth, "s", "", "", time.Now(), h)
			if err != nil {
				t.Fatal(err)
			}
			env, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeData[HostHealth](env, TypeHostHealth)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Got(DecodeData) error = %v, want a FieldError on %q", err, tt.field)
			}
		})
	}
	b, _ := Encode(TypeBuild, "s", "", "", time.Now(), BuildEvent{Key: "k", Release: "14", State: BuildPassed})
	env, _ := Decode(b)
	if _, err := DecodeData[HostHealth](env, TypeHostHealth); err == nil || !strings.Contains(err.Error(), "type") {
		t.Errorf("Got(DecodeData(wrong type)) error = %v, want a type error", err)
	}
}

func TestCommandValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    Validator
		ok   bool
	}{
		{"prune ok", PruneRequest{VMs: []string{"bun-build-macos-14-1.2.16-bootstrap-3.5"}}, true},
		{"prune empty", PruneRequest{}, false},
		{"prune flag-like name", PruneRequest{VMs: []string{"--all"}}, false},
		{"prune shell", PruneRequest{VMs: []string{"a;rm -rf /"}}, false},
		{"pull ok", PullRequest{Source: "ghcr.io/acme/img:1.2-bootstrap-3.6", Name: "img"}, true},
		{"pull bad ref", PullRequest{Source: "ghcr.io/a b", Name: "img"}, false},
		{"force ok", ForceRequest{State: ForcedReady, TTL: Duration(time.Hour)}, true},
		{"force clear", ForceRequest{Clear: true}, true},
		{"force bad", ForceRequest{State: "maybe"}, false},
	}
	for _, tt := range tests {
		if err := tt.v.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Got(Validate) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	h := sampleHealth()
	good, _ := Encode(TypeHostHealth, "s", "mac-01", "", h.CheckedAt, h)
	f.Add(good)
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"t","data":{"host":1}}`))
	f.Add([]byte(`{"data":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode error %v wraps neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		for _, typ := range []string{TypeHostHealth, ""} {
			_, _ = DecodeData[HostHealth](env, typ)
			_, _ = DecodeData[BuildEvent](env, typ)
			_, _ = DecodeData[PruneRequest](env, typ)
			_, _ = DecodeData[PruneOutcome](env, typ)
		}
	})
}
