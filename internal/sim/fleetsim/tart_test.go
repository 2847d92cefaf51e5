package fleetsim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func TestDeleteViolations(t *testing.T) {
	t.Parallel()
	spec := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.17", BootstrapVersion: "3.6"}
	old := spec
	old.BunVersion = "1.2.16"
	cur13, cur14, old13, old14 := spec.ImageName("13"), spec.ImageName("14"), old.ImageName("13"), old.ImageName("14")
	local := func(name, state string) events.VM { return events.VM{Name: name, Source: "local", State: state} }
	base := []events.VM{local(cur13, "stopped"), local(cur14, "stopped"), local(old13, "stopped"), local(old14, "stopped"), local("ci-runner", "stopped")}
	next := spec
	next.BootstrapVersion = "3.7"
	next13 := next.ImageName("13")
	now := time.Now()
	tests := []struct {
		name  string
		vms   []events.VM
		del   string
		open  bool
		next  *events.ImageSpec
		until time.Time
		want  []string
	}{
		{"outdated, replacement ready, window open", base, old13, true, nil, time.Time{}, nil},
		{"a VM already gone", base, "nope", false, nil, time.Time{}, nil},
		{"window closed", base, old13, false, nil, time.Time{}, []string{VDeletedOutsideWindow}},
		{"running", append([]events.VM{local(old14, "running")}, base[:3]...), old14, true, nil, time.Time{}, []string{VDeletedBusy}},
		{"suspended", append([]events.VM{local(old14, "suspended")}, base[:3]...), old14, true, nil, time.Time{}, []string{VDeletedBusy}},
		{"the expected image", base, cur14, true, nil, time.Time{}, []string{VDeletedExpected}},
		{"not ours", base, "ci-runner", true, nil, time.Time{}, []string{VDeletedNotOurs}},
		{"replacement missing", []events.VM{local(cur13, "stopped"), local(old14, "stopped")}, old14, true, nil, time.Time{}, []string{VDeletedBeforeReplacement}},
		{"an OCI cache entry", []events.VM{{Name: "ghcr.io/x/y:1", Source: "oci"}}, "ghcr.io/x/y:1", true, nil, time.Time{}, []string{VDeletedNotLocal, VDeletedNotOurs}},
		{"a staged image", append([]events.VM{local(next13, "stopped")}, base...), next13, true, &next, time.Time{}, []string{VDeletedExpected}},
		{"the current image during a rollout", base, cur13, true, &next, time.Time{}, []string{VDeletedExpected}},
		{"outdated, within the removal grace", base, old13, true, nil, now.Add(time.Minute), []string{VDeletedWithinGrace}},
		{"outdated, the grace over", base, old13, true, nil, now.Add(-time.Millisecond), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range deleteViolations(rules{spec: spec, next: tt.next, open: tt.open, graceUntil: tt.until}, tt.vms, tt.del, now) {
				got = append(got, v.Kind)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(deleteViolations(%s)) diff (-want +got):\n%s", tt.del, diff)
			}
		})
	}
}

func TestPullOfAnImageNotPushedFails(t *testing.T) {
	t.Parallel()
	s := &Sim{cfg: DefaultConfig(), view: newView(), opts: defaultOptions(), start: time.Now()}
	h := &hostTart{Fake: tarttest.NewFake(""), host: "mac-01", sim: s}
	ref := "ghcr.io/vmfleet-demo/bun-build-macos-14:1.2.16-bootstrap-3.6"
	err := h.Clone(context.Background(), ref, "bun-build-macos-14-1.2.16-bootstrap-3.6")
	if !errors.Is(err, tart.ErrNotFound) {
		t.Errorf("Got(Clone before push) = %v, want tart.ErrNotFound", err)
	}
	s.reg.push(ref)
	if err := h.Clone(context.Background(), ref, "bun-build-macos-14-1.2.16-bootstrap-3.6"); err != nil {
		t.Errorf("Got(Clone after push) = %v, want nil", err)
	}
	vs, pulls, _ := s.ledger.snapshot()
	if len(vs) != 1 || vs[0].Kind != VPullNotPushed || pulls != 1 {
		t.Errorf("Got(violations, pulls) = %+v, %d, want one %s and 1 pull", vs, pulls, VPullNotPushed)
	}
}
