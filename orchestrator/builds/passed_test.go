package builds

import (
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

func TestPassedFor(t *testing.T) {
	w := Want{Key: "img", Image: "img", Release: "14", RegistryRef: "ghcr.io/acme/img", Bun: "1.2.16", Bootstrap: "3.6"}
	r := &Record{Key: w.Key, Image: w.Image, State: events.BuildPassed, Digest: Digest(w)}
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
