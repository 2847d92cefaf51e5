package builds

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

func TestActiveImages(t *testing.T) {
	cur := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	next := cur
	next.Releases, next.BootstrapVersion = []string{"14"}, "3.7"
	got := ActiveImages(&cur, nil, &next)
	want := map[string]bool{
		"bun-build-macos-13-1.2.16-bootstrap-3.6": true,
		"bun-build-macos-14-1.2.16-bootstrap-3.6": true,
		"bun-build-macos-14-1.2.16-bootstrap-3.7": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(ActiveImages) diff (-want +got):\n%s", diff)
	}
}

func TestObsolete(t *testing.T) {
	const keep, drop = "img-keep", "img-drop"
	recs := []Record{
		{Key: "z-running", Image: drop, State: events.BuildRunning},
		{Key: "a-scheduled", Image: drop, State: events.BuildScheduled},
		{Key: "m-requested", Image: drop, State: events.BuildRequested},
		{Key: "wanted-running", Image: keep, State: events.BuildRunning},
		{Key: "wanted/host-1", Image: keep, Host: "host-1", State: events.BuildScheduled},
		{Key: "passed", Image: drop, State: events.BuildPassed},
		{Key: "failed", Image: drop, State: events.BuildFailed},
		{Key: "canceled", Image: drop, State: events.BuildCanceled},
		{Key: "blocked", Image: drop, State: events.BuildBlocked},
	}
	wanted := ActiveImages()
	wanted[keep] = true
	var got []string
	for _, r := range Obsolete(recs, func(img string) bool { return wanted[img] }) {
		got = append(got, r.Key)
	}
	if diff := cmp.Diff([]string{"a-scheduled", "m-requested", "z-running"}, got); diff != "" {
		t.Errorf("Got(Obsolete) diff (-want +got):\n%s", diff)
	}
	if got := Obsolete(recs, func(string) bool { return true }); len(got) != 0 {
		t.Errorf("Got(Obsolete when every image is wanted) = %v, want none", got)
	}
}
