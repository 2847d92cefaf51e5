package orchestrator

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
)

func TestPauseLever(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t, Config{Levers: levers.Config{Pause: true, PauseTimeout: 40 * time.Minute}})
	add := func(name, hostname string, tags ...string) string {
		return e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: name, Hostname: hostname, MetaData: tags}).ID
	}
	ids := map[string]string{
		"none-a":   add("none-a", "x1", "vmfleet-host=none"), // ready for no release: two agents
		"none-b":   add("none-b", "x2", "vmfleet-host=none"),
		"byname":   add("byname", "ByName.local"), // matched by reported hostname
		"partial":  add("partial", "partial"),     // 13 ready: keeps working
		"stale":    add("stale", "stale"),         // stale: left alone
		"linux":    add("linux", "linux-1"),       // no such host
		"operator": add("operator", "ready"),      // paused by an operator, host ready
	}
	if err := e.api.PauseAgent(t.Context(), ids["operator"], "ops", time.Hour); err != nil {
		t.Fatal(err)
	}
	e.report("stale", false, false)
	e.clock.Set(t0.Add(10 * time.Minute))
	e.report("none", false, false)
	e.report("byname", false, false)
	e.report("partial", true, false)
	e.report("ready", true, true)

	pausedSet := func() []string {
		var out []string
		for _, n := range []string{"none-a", "none-b", "byname", "partial", "stale", "linux", "operator"} {
			if e.paused(ids[n]) {
				out = append(out, n)
			}
		}
		return out
	}
	step := func(name string, want []string, wantPauses, wantResumes int) {
		t.Helper()
		e.o.agents.Pass(t.Context())
		if diff := cmp.Diff(want, pausedSet()); diff != "" {
			t.Errorf("%s: Got(paused agents) mismatch (-want +got):\n%s", name, diff)
		}
		p, r := e.puts(buildkitefake.RoutePause, http.StatusNoContent), e.puts(buildkitefake.RouteResume, http.StatusNoContent)
		if p != wantPauses || r != wantResumes {
			t.Errorf("%s: Got(204 pauses, resumes) = %d, %d, want %d, %d", name, p, r, wantPauses, wantResumes)
		}
	}
	// The byname host reports hostname ByName.local (health() appends .local to the token).
	step("first pass", []string{"none-a", "none-b", "byname", "operator"}, 1+3, 0)
	if got := gauge(t, e.o.reg, "vmfleet_orchestrator_paused_agents"); got != 3 {
		t.Errorf("Got(paused_agents) = %v, want 3", got)
	}
	step("same state: no calls", []string{"none-a", "none-b", "byname", "operator"}, 4, 0)

	e.clock.Set(t0.Add(12 * time.Minute))
	e.report("none", false, true)
	e.report("byname", false, false)
	step("none ready for 14", []string{"byname", "operator"}, 4, 2)

	// Renewal at three quarters of the timeout: resume, then pause again.
	e.clock.Set(t0.Add(10*time.Minute + 30*time.Minute))
	e.report("byname", false, false)
	step("renewal", []string{"byname", "operator"}, 5, 3)
}

func TestPauseLeverIdempotent(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t, Config{Levers: levers.Config{Pause: true}})
	id := e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "a", Hostname: "h", MetaData: []string{"vmfleet-host=mac-01"}}).ID
	e.report("mac-01", false, false)
	// Someone paused it already: 422 "already paused" is the pause wanted.
	if err := e.api.PauseAgent(t.Context(), id, "earlier", time.Hour); err != nil {
		t.Fatal(err)
	}
	e.o.agents.Pass(t.Context())
	if got := e.puts(buildkitefake.RoutePause, http.StatusUnprocessableEntity); got != 1 {
		t.Errorf("Got(422 pauses) = %d, want 1", got)
	}
	if _, _, _, paused := e.o.agents.Host("mac-01"); !paused {
		t.Errorf("Got(host paused) = false, want true after 422 already paused")
	}
	// It was resumed behind our back: 422 "not paused" is the resume wanted.
	if err := e.api.ResumeAgent(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	e.report("mac-01", true, true)
	e.o.agents.Pass(t.Context())
	if got := e.puts(buildkitefake.RouteResume, http.StatusUnprocessableEntity); got != 1 {
		t.Errorf("Got(422 resumes) = %d, want 1", got)
	}
	if _, _, _, paused := e.o.agents.Host("mac-01"); paused || gauge(t, e.o.reg, "vmfleet_orchestrator_paused_agents") != 0 {
		t.Errorf("Got(host paused) = %v, want false after 422 not paused", paused)
	}
}

func TestPauseLeverFollowerAndLimits(t *testing.T) {
	t.Parallel()
	leader := false
	e := newAgentsEnv(t, Config{Levers: levers.Config{Pause: true}}, WithLeader(func() bool { return leader }))
	for i := range levers.MaxCallsPerPass + 10 {
		host := fmt.Sprintf("mac-%03d", i)
		e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: host, Hostname: host})
		e.report(host, false, false)
	}
	e.o.agents.Pass(t.Context())
	if got := e.bk.RequestCount(http.MethodGet, buildkitefake.RouteAgents, http.StatusOK); got != 0 {
		t.Errorf("Got(agent listings by a follower) = %d, want 0", got)
	}
	leader = true
	e.o.agents.Pass(t.Context())
	if got := e.puts(buildkitefake.RoutePause, http.StatusNoContent); got != levers.MaxCallsPerPass {
		t.Errorf("Got(pauses in one pass) = %d, want the cap %d", got, levers.MaxCallsPerPass)
	}
	e.bk.AddFault(buildkitefake.Fault{Route: buildkitefake.RoutePause, Status: http.StatusTooManyRequests, Reset: 10 * time.Second})
	e.o.agents.Pass(t.Context())
	if got := e.puts(buildkitefake.RoutePause, http.StatusNoContent); got != levers.MaxCallsPerPass {
		t.Errorf("Got(pauses after a 429) = %d, want none more in that pass", got)
	}
	e.o.agents.Pass(t.Context()) // before the reset: held, no call
	if got := e.puts(buildkitefake.RoutePause, http.StatusNoContent); got != levers.MaxCallsPerPass {
		t.Errorf("Got(pauses before the 429's reset) = %d, want none more", got)
	}
	e.clock.Add(10 * time.Second)
	e.o.agents.Pass(t.Context())
	if got := e.puts(buildkitefake.RoutePause, http.StatusNoContent); got != levers.MaxCallsPerPass+10 {
		t.Errorf("Got(pauses after the next pass) = %d, want all %d", got, levers.MaxCallsPerPass+10)
	}
	leader = false
	e.o.agents.Pass(t.Context())
	if got := gauge(t, e.o.reg, "vmfleet_orchestrator_paused_agents"); got != 0 {
		t.Errorf("Got(paused_agents after losing the lease) = %v, want 0 (the next leader judges afresh)", got)
	}
}
