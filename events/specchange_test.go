package events

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSpecChangeSubject(t *testing.T) {
	s, err := NewSubjects("acme.ci")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SpecChange(); got != "acme.ci.fleet.spec" {
		t.Errorf("Got(SpecChange()) = %q, want acme.ci.fleet.spec", got)
	}
	p, err := s.Parse(s.SpecChange())
	if diff := cmp.Diff(Parsed{Kind: KindSpecChange}, p); err != nil || diff != "" {
		t.Errorf("Got(Parse(spec change)) = %v (-want +got):\n%s", err, diff)
	}
}

func TestSpecChangeValidate(t *testing.T) {
	good := SpecHistoryEntry{Revision: 3, Key: SpecKey}
	if err := good.Validate(); err != nil {
		t.Errorf("Got(Validate(valid)) = %v, want nil", err)
	}
	for _, c := range []SpecHistoryEntry{{Revision: 3, Key: "seed"}, {Key: NextSpecKey}} {
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) {
			t.Errorf("Got(Validate(%+v)) = %v, want a FieldError", c, err)
		}
	}
}
