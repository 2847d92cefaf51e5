package orchestrator

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
)

func TestDriftFlaggedAfterGrace(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t, Config{Levers: levers.Config{DriftGrace: 5 * time.Minute}})
	tags := []string{"vm-ready-macos-13=true", "vm-ready-macos-14=false", "vmfleet-host=mac-01"}
	old := []string{"queue=darwin", "vm-ready-macos-13=false", "vm-ready-macos-14=false", "vmfleet-host=mac-01"}
	a := e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "mac-01-1", Hostname: "mac-01", MetaData: old})
	e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "mac-02-1", Hostname: "mac-02", MetaData: []string{"vmfleet-host=mac-02"}})

	at := func(d time.Duration) {
		e.clock.Set(t0.Add(d))
		e.report("mac-01", true, false, tags...)
		e.report("mac-02", true, false, "vmfleet-host=mac-02")
		e.report("mac-03", true, false) // no tag lever: never checked
		e.o.agents.Pass(t.Context())
	}
	check := func(name string, want bool) {
		t.Helper()
		if got := gauge(t, e.o.reg, "vmfleet_tag_drift_hosts"); got != map[bool]float64{true: 1}[want] {
			t.Errorf("%s: Got(vmfleet_tag_drift_hosts) = %v, want %v", name, got, want)
		}
		v, _ := e.o.Host("mac-01")
		if v.Drift != want {
			t.Errorf("%s: Got(mac-01 drift) = %v, want %v", name, v.Drift, want)
		}
	}
	at(0)
	check("at first sight", false)
	at(4*time.Minute + 59*time.Second)
	check("within the grace", false)
	if got := e.drifts(); len(got) != 0 {
		t.Errorf("Got(drift events within the grace) = %v, want none", got)
	}
	at(5 * time.Minute)
	check("after the grace", true)
	if v, _ := e.o.Host("mac-01"); v.DriftSince == nil || !v.DriftSince.Equal(t0) || v.DriftReason != events.DriftTagsDiffer {
		t.Errorf("Got(drift since, reason) = %v, %q, want t0, tags_differ", v.DriftSince, v.DriftReason)
	}
	want := []events.TagDrift{{Host: "mac-01", Drift: true, Since: t0, Reason: events.DriftTagsDiffer, Reported: tags,
		Buildkite: old, Agents: []string{"mac-01-1"}, At: t0.Add(5 * time.Minute)}}
	if diff := cmp.Diff(want, e.drifts()); diff != "" {
		t.Errorf("Got(drift events) mismatch (-want +got):\n%s", diff)
	}
	if err := e.bk.SetAgentTags(agentsOrg, a.ID, append([]string{"queue=darwin"}, tags...)...); err != nil {
		t.Fatal(err)
	}
	at(6 * time.Minute)
	check("agreeing again", false)
	if got := e.drifts(); len(got) != 2 || got[1].Drift || got[1].Host != "mac-01" {
		t.Errorf("Got(drift events) = %+v, want a second with drift false", got)
	}
}

func TestDriftGraceRestartsWhenTagsAgree(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t, Config{Levers: levers.Config{DriftGrace: 5 * time.Minute}})
	good := []string{"vmfleet-host=mac-01", "vm-ready-macos-14=true"}
	a := e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "a", Hostname: "mac-01", MetaData: []string{"vmfleet-host=mac-01"}})
	step := func(d time.Duration, bk []string, want bool) {
		t.Helper()
		if err := e.bk.SetAgentTags(agentsOrg, a.ID, bk...); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(t0.Add(d))
		e.report("mac-01", true, true, good...)
		e.o.agents.Pass(t.Context())
		if v, _ := e.o.Host("mac-01"); v.Drift != want {
			t.Errorf("Got(drift at +%s) = %v, want %v", d, v.Drift, want)
		}
	}
	step(0, []string{"vmfleet-host=mac-01"}, false)
	step(3*time.Minute, good, false)                            // agreed: the clock restarts
	step(4*time.Minute, []string{"vmfleet-host=mac-01"}, false) // disagrees since +4m
	step(8*time.Minute, []string{"vmfleet-host=mac-01"}, false) // 4m < grace
	step(9*time.Minute, []string{"vmfleet-host=mac-01"}, true)
	// No agent at all for the grace is drift too.
	if err := e.bk.SetAgentConnectionState(agentsOrg, a.ID, "disconnected"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(20 * time.Minute))
	e.report("mac-01", true, true, good...)
	e.o.agents.Pass(t.Context())
	if v, _ := e.o.Host("mac-01"); !v.Drift || v.DriftReason != events.DriftNoAgent {
		t.Errorf("Got(drift with no agent) = %v %q, want true no_agent", v.Drift, v.DriftReason)
	}
}
