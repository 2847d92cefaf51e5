package builds

import (
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

func TestObsolete(t *testing.T) {
	cur := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	next := cur
	next.BootstrapVersion = "3.7"
	gone := cur
	gone.Releases = []string{"12"}
	rec := func(im events.ImageSpec, rel string, st events.BuildState) Record {
		return Record{Key: RecordKey(im.ImageName(rel), ""), Image: im.ImageName(rel), Release: rel, State: st}
	}
	tests := []struct {
		name   string
		r      Record
		active []events.ImageSpec
		want   bool
	}{
		{name: "current image", r: rec(cur, "14", events.BuildRunning), active: []events.ImageSpec{cur}},
		{name: "staged image", r: rec(next, "14", events.BuildScheduled), active: []events.ImageSpec{cur, next}},
		{name: "staged image once unstaged", r: rec(next, "14", events.BuildScheduled), active: []events.ImageSpec{cur}, want: true},
		{name: "removed release", r: rec(gone, "12", events.BuildRequested), active: []events.ImageSpec{cur, next}, want: true},
		{name: "finished: nothing to cancel", r: rec(gone, "12", events.BuildFailed), active: []events.ImageSpec{cur}},
		{name: "blocked: nothing to cancel", r: rec(gone, "12", events.BuildBlocked), active: []events.ImageSpec{cur}},
		{name: "no active spec", r: rec(cur, "13", events.BuildRunning), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Obsolete(tt.r, tt.active...); got != tt.want {
				t.Errorf("Got(Obsolete) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPassedFor(t *testing.T) {
	w := Want{Key: "img", Image: "img", Release: "14", RegistryRef: "ghcr.io/acme/img", Bun: "1.2.16", Bootstrap: "3.6"}
	r := &Record{Key: w.Key, Image: w.Image, State: events.BuildPassed, Digest: digest(w)}
	if !PassedFor(r, w) {
		t.Errorf("Got(PassedFor(passed, same parameters)) = false, want true")
	}
	other := w
	other.RegistryRef = "ghcr.io/acme/other"
	if PassedFor(r, other) {
		t.Errorf("Got(PassedFor(passed, other parameters)) = true, want false")
	}
	running := *r
	running.State = events.BuildRunning
	if PassedFor(&running, w) || PassedFor(nil, w) {
		t.Errorf("Got(PassedFor(running or nil)) = true, want false")
	}
}
