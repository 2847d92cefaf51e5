package orchestrator_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestPruneNothingWithinTheGrace: four agents hold releases 13 and 14, a
// window is always open; `spec set --releases 14` removes release 13. Within
// the removal grace no prune command names a release-13 image (the plan
// keeps it with removed_grace); once the grace is over they go, to at most
// ceil(0.5 × 4) = 2 hosts in the window occurrence (the disruption budget).
func TestPruneNothingWithinTheGrace(t *testing.T) {
	t.Parallel()
	g := newGraceFleet(t, 0.5)
	h, spec, start, agents, cmds, at := g.h, g.spec, g.start, g.agents, g.prunes, g.at
	img13, img14 := spec.Images.ImageName("13"), spec.Images.ImageName("14")

	if _, got := h.setSpec(apiToken, api.SpecUpdate{Releases: []string{"14"}, By: "typo", Confirm: true}); got != http.StatusOK {
		t.Fatalf("Got(spec set) = %d, want 200", got)
	}
	kept := cleanup.Decision{VM: img13, Release: "13", Reason: cleanup.ReasonReleaseRemoved, Rule: cleanup.RuleRemovedGrace}
	for _, a := range agents {
		h.waitFor(a.host+"'s plan keeps "+img13+" in the grace", func() bool {
			v, ok := h.o.Host(a.host)
			return ok && v.Prune != nil && slices.Contains(v.Prune.Plan.Keep, kept)
		})
	}
	h.settle(5)
	at(start.Add(events.DefaultRemovedGrace - time.Minute))
	h.settle(5)
	for _, c := range cmds() {
		t.Errorf("Got(prune command within the grace) = %s, want none", c)
	}
	for _, a := range agents {
		if !a.tart.Has(img13) {
			t.Errorf("Got(%s has %s within the grace) = false, want true", a.host, img13)
		}
	}

	// Past the grace: the window prunes, within the budget.
	at(start.Add(events.DefaultRemovedGrace + time.Minute))
	gone := func() int {
		n := 0
		for _, a := range agents {
			if !a.tart.Has(img13) {
				n++
			}
		}
		return n
	}
	h.waitFor("two hosts pruned", func() bool { return gone() == 2 })
	h.settle(5)
	hosts := map[string]bool{}
	for _, c := range cmds() {
		hosts[strings.Split(c, ".")[2]] = true
	}
	if len(hosts) != 2 || gone() != 2 {
		t.Errorf("Got(hosts sent a prune in the occurrence) = %v, %d pruned, want 2 (the budget)", hosts, gone())
	}
	if got := h.metric("vmfleet_orchestrator_prune_budget_remaining"); got != 0 {
		t.Errorf("Got(prune_budget_remaining) = %v, want 0", got)
	}
	for _, a := range agents {
		if !a.tart.Has(img14) {
			t.Errorf("Got(%s has %s) = false, want true", a.host, img14)
		}
	}
}

// graceFleet is four agents holding the images of releases 13 and 14 of a
// spec whose cleanup window is always open (max_prune_hosts_fraction
// fraction), every host ready, the prune commands collected from then on.
// The clock starts at the real time: the removal grace counts from the
// spec bucket's (real) time of a change.
type graceFleet struct {
	h      *harness
	spec   events.Spec
	start  time.Time
	agents []*testAgent
	prunes func() []string
}

func newGraceFleet(t *testing.T, fraction float64) *graceFleet {
	t.Helper()
	g := &graceFleet{h: newHarness(t), start: time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)}
	h := g.h
	h.clock.Set(g.start)
	g.spec = testSpec("")
	g.spec.Images.Releases = []string{"13", "14"}
	g.spec.Cleanup = events.CleanupPolicy{KeepBunVersions: 1, MaxPruneHostsFraction: fraction,
		Windows: []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}}
	g.agents = h.addAgents(4, "mac", g.spec.Images, agentd.WithClock(h.clock.Now))
	for _, a := range g.agents {
		a.tart.Add(events.VM{Name: g.spec.Images.ImageName("13"), SizeGB: imgSize}, events.VM{Name: g.spec.Images.ImageName("14"), SizeGB: imgSize})
		a.a.Trigger()
	}
	h.start(h.config(g.spec))
	g.prunes = h.collect("vmfleet.cmd.*.prune")
	for _, a := range g.agents {
		h.waitFor(a.host+" ready", func() bool { return h.hostReady(a.host) })
	}
	return g
}

// at moves the clock to now and has every host report at once (a report
// that changed: a scratch VM appears), so none is stale.
func (g *graceFleet) at(now time.Time) {
	g.h.clock.Set(now)
	for i, a := range g.agents {
		a.tart.Add(events.VM{Name: fmt.Sprintf("scratch-%d-%d", i, now.Unix())})
		a.a.Trigger()
	}
	for _, a := range g.agents {
		g.h.waitFor(a.host+" fresh", func() bool { v, ok := g.h.o.Host(a.host); return ok && v.State != orchestrator.HostStale })
	}
}
