package events

import "testing"

func TestReasonInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Reason
		want ReasonInfo
	}{
		{ReasonReady, ReasonInfo{Known: true, Ready: true, Label: "ready", Class: ClassOK}},
		{ReasonImageMissing, ReasonInfo{Known: true, Missing: true, Label: "image missing", Class: ClassBad}},
		{ReasonBootstrapMismatch, ReasonInfo{Known: true, Missing: true, Label: "bootstrap mismatch", Class: ClassWarn}},
		{ReasonTartError, ReasonInfo{Known: true, Error: true, Label: "tart error", Class: ClassBad}},
		{ReasonForcedReady, ReasonInfo{Known: true, Ready: true, Forced: true, Label: "forced ready", Class: ClassWarn}},
		{ReasonForcedNotReady, ReasonInfo{Known: true, Forced: true, Label: "forced not ready", Class: ClassWarn}},
		{ReasonNoSpace, ReasonInfo{Known: true, Label: "no space", Class: ClassWarn}},
		{"disk_full", ReasonInfo{Label: "disk full", Class: ClassWarn}},
	}
	for _, tt := range tests {
		if got := tt.r.Info(); got != tt.want {
			t.Errorf("Got(%q.Info()) = %+v, want %+v", tt.r, got, tt.want)
		}
		if got := tt.r.Valid(); got != tt.want.Known {
			t.Errorf("Got(%q.Valid()) = %v, want %v", tt.r, got, tt.want.Known)
		}
	}
	for _, r := range []Reason{"", "Ready", "a-b", "a b", Reason(make([]byte, 65))} {
		if r.WellFormed() {
			t.Errorf("Got(%q.WellFormed()) = true, want false", r)
		}
	}
	for _, r := range []Reason{ReasonReady, "disk_full", "x1"} {
		if !r.WellFormed() {
			t.Errorf("Got(%q.WellFormed()) = false, want true", r)
		}
	}
}

func TestHealthWithUnknownReason(t *testing.T) {
	t.Parallel()
	h := sampleHealth()
	h.Ready = true
	h.Releases = append(h.Releases, ReleaseStatus{Release: "15", Ready: true, Reason: "disk_full"})
	if err := h.Validate(); err != nil {
		t.Fatalf("Got(Validate with a newer agent's reason) = %v, want nil", err)
	}
	if n := h.DemoteUnknownReasons(); n != 1 || h.Ready || h.Releases[1].Ready || !h.Releases[0].Ready {
		t.Errorf("Got(DemoteUnknownReasons) = %d, %+v, want 1 and release 15 and the host not ready", n, h)
	}
	h.Releases[1].Reason = "Disk Full"
	if err := h.Validate(); err == nil {
		t.Errorf("Got(Validate with a malformed reason) = nil, want an error")
	}
}
