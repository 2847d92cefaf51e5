package buildkite_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// TestCancelBuild: a cancel answers the build as Buildkite does (canceled
// at once when scheduled, canceling while running); a finished or unknown
// build is Buildkite's final refusal (CannotCancel), a 5xx or a 429 is not.
func TestCancelBuild(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	ctx := t.Context()
	create := func(key string) int {
		t.Helper()
		b, err := e.api.CreateBuild(ctx, buildkite.BuildRequest{Key: key, Attempt: 1, MetaData: map[string]string{events.MetaKey: key, buildkite.MetaAttempt: "1"}})
		if err != nil {
			t.Fatal(err)
		}
		return b.Number
	}
	passed := create("passed")
	e.bk.Step() // running
	e.bk.Step() // passed
	running := create("running")
	e.bk.Step()
	scheduled := create("scheduled")
	if b, _ := e.bk.GetBuild(agentsOrg, "build-macos-vm", passed); b.State != buildkitefake.StatePassed {
		t.Fatalf("Got(setup: build #%d) = %s, want passed", passed, b.State)
	}

	tests := []struct {
		name      string
		number    int
		fault     *buildkitefake.Fault
		wantRaw   string
		wantState events.BuildState
		final     bool // CannotCancel
	}{
		{name: "scheduled", number: scheduled, wantRaw: "canceled", wantState: events.BuildCanceled},
		{name: "running", number: running, wantRaw: "canceling", wantState: events.BuildRunning},
		{name: "already finished", number: passed, final: true},
		{name: "unknown", number: 99, final: true},
		{name: "server error", number: running, fault: &buildkitefake.Fault{Route: buildkitefake.RouteCancel, Status: http.StatusBadGateway}},
		{name: "rate limited", number: running, fault: &buildkitefake.Fault{Route: buildkitefake.RouteCancel, Status: http.StatusTooManyRequests, Reset: 10 * time.Second}},
	}
	for _, tt := range tests {
		if tt.fault != nil {
			e.bk.AddFault(*tt.fault)
		}
		info, err := e.api.CancelBuild(ctx, tt.number)
		switch {
		case tt.wantRaw != "":
			if err != nil || info.Number != tt.number || info.RawState != tt.wantRaw || info.State != tt.wantState {
				t.Errorf("Got(%s: CancelBuild(%d)) = #%d %s (%s), %v, want #%d %s (%s)", tt.name, tt.number, info.Number, info.RawState, info.State, err, tt.number, tt.wantRaw, tt.wantState)
			}
		case err == nil:
			t.Errorf("Got(%s: CancelBuild(%d)) = %+v, want an error", tt.name, tt.number, info)
		case buildkite.CannotCancel(err) != tt.final:
			t.Errorf("Got(%s: CannotCancel(%v)) = %v, want %v", tt.name, err, !tt.final, tt.final)
		}
		var rl *buildkite.RateLimitError
		if tt.fault != nil && tt.fault.Status == http.StatusTooManyRequests && !errors.As(err, &rl) {
			t.Errorf("Got(%s: error) = %v, want a *RateLimitError", tt.name, err)
		}
	}
}
