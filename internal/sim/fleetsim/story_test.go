package fleetsim

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

func TestNarratorPipeAndTerminal(t *testing.T) {
	t.Parallel()
	evs := []Event{
		{At: 90 * time.Second, Kind: KindProgress, Ready: 0, Total: 0},
		{At: 2 * time.Minute, Kind: KindHost, Text: "host mac-03 not ready: release 14 image missing"},
		{At: 3 * time.Minute, Kind: KindProgress, Ready: 9, Total: 12, Live: 3},
		{At: 4 * time.Minute, Kind: KindProgress, Ready: 9, Total: 12, Live: 3},
		{At: time.Hour + 5*time.Second, Kind: KindBuild, Text: "build #12 passed"},
		{At: time.Hour + 6*time.Second, Kind: KindProgress, Ready: 11, Total: 12, Live: 1},
	}
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"pipe: plain lines, progress only when it changes", false,
			"[00:02:00]  host mac-03 not ready: release 14 image missing\n" +
				"[00:03:00]  fleet 9/12 ready, 3 builds running\n" +
				"[01:00:05]  build #12 passed\n" +
				"[01:00:06]  fleet 11/12 ready, 1 build running\n"},
		{"terminal: the progress line redraws in place under the story", true,
			"[00:02:00]  host mac-03 not ready: release 14 image missing\n" +
				clearLine + "[00:03:00]  fleet 9/12 ready, 3 builds running" +
				clearLine + "[00:04:00]  fleet 9/12 ready, 3 builds running" +
				clearLine + "[01:00:05]  build #12 passed\n[00:04:00]  fleet 9/12 ready, 3 builds running" +
				clearLine + "[01:00:06]  fleet 11/12 ready, 1 build running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			n := NewNarrator(&b, tt.terminal)
			for _, e := range evs {
				n.Observe(e)
			}
			n.Close()
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("Got(output) diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoryLines(t *testing.T) {
	t.Parallel()
	img := "bun-build-macos-14-1.2.16-bootstrap-3.6"
	tests := []struct {
		name, got, want string
	}{
		{"host not ready", readinessLine(events.HostHealth{Host: "mac-03", Releases: []events.ReleaseStatus{
			{Release: "13", Ready: true, Reason: events.ReasonReady}, {Release: "14", Reason: events.ReasonImageMissing}}}),
			"host mac-03 not ready: release 14 image missing"},
		{"host ready", readinessLine(events.HostHealth{Host: "mac-03", Ready: true}), "host mac-03 ready"},
		{"build requested", buildLine(events.BuildEvent{Image: img, Host: "mac-03", State: events.BuildRequested, Attempt: 1}),
			"build requested for " + img + " on mac-03 (attempt 1)"},
		{"build passed, registry", buildLine(events.BuildEvent{Image: img, Number: 12, State: events.BuildPassed}),
			"build #12 passed: " + img + " for the fleet"},
		{"build failed", buildLine(events.BuildEvent{Image: img, Host: "mac-03", Number: 12, State: events.BuildFailed, Error: "exit 1"}),
			"build #12 failed: " + img + " on mac-03: exit 1"},
		{"pruned", pruneLine(events.PruneOutcome{Host: "mac-03", VM: img, Result: events.PruneDeleted, Reason: "bun_outdated"}),
			"mac-03 deleted " + img + " (bun_outdated)"},
		{"kept", pruneLine(events.PruneOutcome{Host: "mac-03", VM: img, Result: events.PruneSkipped, Reason: "busy"}),
			"mac-03 kept " + img + ": busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("Got(line) = %q, want %q", tt.got, tt.want)
			}
		})
	}
}
