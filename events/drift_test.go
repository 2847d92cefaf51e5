package events

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDriftSubjectAndValidate(t *testing.T) {
	s, err := NewSubjects("acme.ci")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Drift(); got != "acme.ci.fleet.drift" {
		t.Errorf("Got(Drift()) = %q, want acme.ci.fleet.drift", got)
	}
	p, err := s.Parse(s.Drift())
	if diff := cmp.Diff(Parsed{Kind: KindDrift}, p); err != nil || diff != "" {
		t.Errorf("Got(Parse(drift)) = %v (-want +got):\n%s", err, diff)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	good := TagDrift{Host: "mac-01", Drift: true, Since: at, Reason: DriftTagsDiffer, At: at}
	tests := []struct {
		name  string
		edit  func(*TagDrift)
		field string // "" = valid
	}{
		{name: "valid", edit: func(*TagDrift) {}},
		{name: "bad host", edit: func(d *TagDrift) { d.Host = "mac.01" }, field: "host"},
		{name: "unknown reason", edit: func(d *TagDrift) { d.Reason = "odd" }, field: "reason"},
		{name: "no since", edit: func(d *TagDrift) { d.Since = time.Time{} }, field: "since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.edit(&d)
			err := d.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Got(Validate) = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("Got(Validate) = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	b, err := Encode(TypeTagDrift, "/test", "mac-01", "", at, good)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeData[TagDrift](env, TypeTagDrift)
	if err != nil || !cmp.Equal(good, got) {
		t.Errorf("Got(round trip) = %+v, %v, want %+v", got, err, good)
	}
}
