package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDrainSubjectAndValidate(t *testing.T) {
	s, err := NewSubjects("acme.ci")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.HostDrain(); got != "acme.ci.fleet.drain" {
		t.Errorf("Got(HostDrain()) = %q, want acme.ci.fleet.drain", got)
	}
	if p, err := s.Parse(s.HostDrain()); err != nil || p.Kind != KindDrain {
		t.Errorf("Got(Parse(drain)) = %+v, %v; want kind %s", p, err, KindDrain)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, ev := range []HostDrain{{Host: "mac.01", Action: DrainActionDrain, At: at}, {Host: "mac-01", Action: "pause", At: at}} {
		if err := ev.Validate(); err == nil {
			t.Errorf("Got(Validate(%+v)) = nil, want an error", ev)
		}
	}
	if err := (HostDrain{Host: "mac-01", Action: DrainActionResume, At: at}).Validate(); err != nil {
		t.Errorf("Got(Validate(resume)) = %v, want nil", err)
	}
	tests := []struct {
		host string
		req  DrainRequest
		want string // "" = valid
	}{
		{host: "mac-01", req: DrainRequest{By: "alice", Reason: "disk swap", TTL: Duration(4 * time.Hour)}},
		{host: "mac.01", want: "not a host name"},
		{host: "mac-01", req: DrainRequest{TTL: Duration(-time.Second)}, want: "negative"},
		{host: "mac-01", req: DrainRequest{Reason: strings.Repeat("x", 1001)}, want: "too long"},
	}
	for _, tt := range tests {
		err := tt.req.Validate(tt.host)
		if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Got(Validate(%s, %+v)) = %v, want %q", tt.host, tt.req, err, tt.want)
		}
	}
}
