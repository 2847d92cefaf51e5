package orchestrator_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// outdatedFleet starts n agents ready on pruneSpec's images that also hold
// an outdated image (bun 1.2.15) of release 14, and the orchestrator; the
// clock is outside the window.
func outdatedFleet(t *testing.T, n int, spec events.Spec, extra ...events.VM) (*harness, []*testAgent, string) {
	t.Helper()
	h := newHarness(t)
	h.clock.Set(beforeWindow)
	older := spec.Images
	older.BunVersion = "1.2.15"
	old := older.ImageName("14")
	agents := readyAgents(h, n, spec.Images, append([]events.VM{{Name: old, SizeGB: imgSize}}, extra...)...)
	h.start(h.config(spec))
	for _, a := range agents {
		h.waitFor(a.host+" ready", func() bool { return h.hostReady(a.host) })
	}
	return h, agents, old
}

// TestOperatorPrune: `vmfleet prune --host H` outside a window prunes
// nothing without --now; a dry run reports without deleting; --now prunes.
func TestOperatorPrune(t *testing.T) {
	t.Parallel()
	spec := pruneSpec()
	h, agents, old := outdatedFleet(t, 2, spec)
	a := agents[0]
	cmds := h.collect("vmfleet.cmd.*.prune")

	tests := []struct {
		name     string
		req      api.PruneHostRequest
		token    string
		status   int
		sent     bool
		outcomes []events.PruneOutcome
		keep     []cleanup.Decision
		has      bool
	}{
		{name: "no token", token: "wrong", status: http.StatusUnauthorized, has: true},
		{name: "outside the window", status: http.StatusOK, has: true,
			keep: []cleanup.Decision{{VM: old, Release: "14", Reason: cleanup.ReasonBunOutdated, Rule: cleanup.RuleOutsideWindow}}},
		{name: "dry run, now", req: api.PruneHostRequest{DryRun: true, Now: true}, status: http.StatusOK, sent: true, has: true,
			outcomes: []events.PruneOutcome{{Host: a.host, VM: old, Result: events.PrunePlanned, Reason: string(cleanup.ReasonBunOutdated), DryRun: true}}},
		{name: "now", req: api.PruneHostRequest{Now: true}, status: http.StatusOK, sent: true,
			outcomes: []events.PruneOutcome{{Host: a.host, VM: old, Result: events.PruneDeleted, Reason: string(cleanup.ReasonBunOutdated)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := apiToken
			if tt.token != "" {
				token = tt.token
			}
			resp, got := h.prune(a.host, token, tt.req)
			if got != tt.status {
				t.Fatalf("Got(status) = %d, want %d", got, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if resp.Sent != tt.sent || resp.Error != "" {
				t.Errorf("Got(sent, error) = %v, %q, want %v, none", resp.Sent, resp.Error, tt.sent)
			}
			if diff := cmp.Diff(tt.outcomes, stripAt(resp.Outcomes), cmpEmpty); diff != "" {
				t.Errorf("Got(outcomes) diff (-want +got):\n%s", diff)
			}
			var keep []cleanup.Decision
			for _, d := range resp.Plan.Keep {
				if d.Reason != "" {
					keep = append(keep, d)
				}
			}
			if diff := cmp.Diff(tt.keep, keep, cmpEmpty); diff != "" {
				t.Errorf("Got(kept candidates) diff (-want +got):\n%s", diff)
			}
			if got := a.tart.Has(old); got != tt.has {
				t.Errorf("Got(%s has %s) = %v, want %v", a.host, old, got, tt.has)
			}
		})
	}
	h.waitFor("the operator's two prune commands", func() bool { return len(cmds()) >= 2 })
	h.settle(3)
	if got, want := countBy(cmds()), map[string]int{"vmfleet.cmd." + a.host + ".prune": 2}; !cmp.Equal(got, want) {
		t.Errorf("Got(prune commands) = %v, want %v (the operator's two, none from the reconciler)", got, want)
	}
	if !agents[1].tart.Has(old) {
		t.Errorf("Got(%s has %s) = false, want true: nobody asked", agents[1].host, old)
	}
	if _, got := h.prune("nope", apiToken, api.PruneHostRequest{Now: true}); got != http.StatusNotFound {
		t.Errorf("Got(prune of an unknown host) = %d, want 404", got)
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []events.PruneOutcome) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })

// TestDiskEmergencyPrunes: with free space under the threshold, outdated
// images go at once, outside any window and before their replacement is
// ready; a running VM, the expected image and a VM not ours stay.
func TestDiskEmergencyPrunes(t *testing.T) {
	t.Parallel()
	spec := pruneSpec()
	// Every real disk has less free space than this: an emergency on the
	// orchestrator (which reads the agent's report) and on the agent.
	spec.Cleanup.DiskEmergencyFreeBytes = 1 << 62
	older := spec.Images
	older.BootstrapVersion = "3.5"
	busyOld := older.ImageName("14")
	h, agents, old := outdatedFleet(t, 1, spec,
		events.VM{Name: busyOld, State: events.VMRunning}, events.VM{Name: "my-dev-vm"})
	a := agents[0]
	h.waitFor("the outdated image pruned", func() bool { return !a.tart.Has(old) })
	h.settle(3)
	if diff := cmp.Diff([]string{busyOld, spec.Images.ImageName("14"), "my-dev-vm"}, a.tart.Names()); diff != "" {
		t.Errorf("Got(VMs left) diff (-want +got):\n%s", diff)
	}

	// A bootstrap bump: the host's only image of the spec's bootstrap is
	// outdated, its replacement not built; the emergency prunes it anyway.
	_, got := h.setSpec(apiToken, api.SpecUpdate{BootstrapVersion: ptr("3.7"), Confirm: true})
	if got != http.StatusOK {
		t.Fatalf("Got(spec set) = %d, want 200", got)
	}
	h.waitFor("the 3.6 image pruned", func() bool { return !a.tart.Has(spec.Images.ImageName("14")) })
	if !a.tart.Has(busyOld) || !a.tart.Has("my-dev-vm") {
		t.Errorf("Got(VMs left) = %v, want the running VM and my-dev-vm", a.tart.Names())
	}
	if got := h.metric("vmfleet_orchestrator_pruned_vms_total", "result", "failed"); got != 0 {
		t.Errorf("Got(failed prunes) = %v, want 0", got)
	}
}
