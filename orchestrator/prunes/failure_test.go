package prunes

import (
	"context"
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

func TestPruneFailure(t *testing.T) {
	tests := []struct {
		name string
		rep  events.Reply
		err  error
		fail bool
	}{
		{name: "all deleted", rep: events.Reply{OK: true, Prune: []events.PruneOutcome{{VM: "a", Result: events.PruneDeleted}}}},
		{name: "already gone", rep: events.Reply{OK: true, Prune: []events.PruneOutcome{{VM: "a", Result: events.PruneSkipped, Reason: events.PruneReasonGone}}}},
		{name: "dry run", rep: events.Reply{OK: true, Prune: []events.PruneOutcome{{VM: "a", Result: events.PrunePlanned}}}},
		{name: "kept", rep: events.Reply{OK: true, Prune: []events.PruneOutcome{{VM: "a", Result: events.PruneSkipped, Reason: "busy"}}}, fail: true},
		{name: "delete failed", rep: events.Reply{OK: true, Prune: []events.PruneOutcome{{VM: "a", Result: events.PruneFailed}}}, fail: true},
		{name: "error reply", rep: events.Reply{Code: events.CodeTartError, Error: "tart list failed"}, fail: true},
		{name: "no reply", err: context.DeadlineExceeded, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Failure(tt.rep, tt.err); (got != "") != tt.fail {
				t.Errorf("Got(Failure) = %q, want failure=%v", got, tt.fail)
			}
		})
	}
}
