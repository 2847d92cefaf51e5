package orchestrator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// TestSpecSetSurvivesRestarts: an operator's `spec set` stays in force
// across restarts with the same config file; a change of the config's
// cleanup section applies without undoing it; a change of the config's
// images section replaces it. An invalid update is refused.
func TestSpecSetSurvivesRestarts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.config(pruneSpec())
	h.start(cfg)
	if _, got := h.setSpec(apiToken, api.SpecUpdate{BunVersion: ptr("1-2")}); got != http.StatusBadRequest {
		t.Errorf("Got(invalid spec set) = %d, want 400", got)
	}
	if got := h.post("/api/v1/spec", apiToken, map[string]any{"bootstrap": "3.7"}, nil); got != http.StatusBadRequest {
		t.Errorf("Got(spec set with an unknown field) = %d, want 400", got)
	}
	_, got := h.setSpec(apiToken, api.SpecUpdate{BootstrapVersion: ptr("3.7"), Releases: []string{"13", "14"}})
	if got != http.StatusOK {
		t.Fatalf("Got(spec set) = %d, want 200", got)
	}

	steps := []struct {
		name      string
		mut       func(*orchestrator.Config)
		bootstrap string
		releases  int
		window    string
	}{
		{name: "same config", mut: func(*orchestrator.Config) {}, bootstrap: "3.7", releases: 2, window: "0 3 * * *"},
		{name: "config's windows change", mut: func(c *orchestrator.Config) {
			c.Spec.Cleanup.Windows = []events.Window{{Schedule: "0 4 * * *", Duration: events.Duration(time.Hour)}}
		}, bootstrap: "3.7", releases: 2, window: "0 4 * * *"},
		{name: "config's images change", mut: func(c *orchestrator.Config) { c.Spec.Images.BootstrapVersion = "3.8" },
			bootstrap: "3.8", releases: 1, window: "0 4 * * *"},
	}
	for _, st := range steps {
		h.stopO()
		st.mut(&cfg)
		h.start(cfg)
		sp := h.o.Spec()
		if sp.Images.BootstrapVersion != st.bootstrap || len(sp.Images.Releases) != st.releases || sp.Cleanup.Windows[0].Schedule != st.window {
			t.Errorf("Got(%s: spec) = %+v, want bootstrap %s, %d releases, window %q", st.name, sp, st.bootstrap, st.releases, st.window)
		}
	}
}

// TestSpecSetUnblocksItsImages: a spec set whose images include a blocked
// build key starts that key again from attempt 1.
func TestSpecSetUnblocksItsImages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, buildkitefake.WithOutcome(func(buildkitefake.Build) buildkitefake.State { return buildkitefake.StateFailed }))
	spec := testSpec("")
	cfg := h.config(spec)
	cfg.Builds.MaxAttempts = 1
	cfg.Builds.MaxBuildsPerHost = 2 // the 3.7 build may still be live when 3.6 comes back
	h.start(cfg)
	ag := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	h.waitFor("the build", func() bool { return h.bk.CreatedCount(key) == 1 })
	h.bk.Step()
	h.bk.Step()
	h.waitState(key, events.BuildBlocked)

	for _, bootstrap := range []string{"3.7", "3.6"} {
		if _, got := h.setSpec(apiToken, api.SpecUpdate{BootstrapVersion: ptr(bootstrap)}); got != http.StatusOK {
			t.Fatalf("Got(spec set %s) = %d, want 200", bootstrap, got)
		}
	}
	h.waitFor("the key built again", func() bool { return h.bk.CreatedCount(key) == 2 })
	if r, _ := h.record(key); r.Attempt != 1 || !r.State.Live() {
		t.Errorf("Got(record) = %+v, want attempt 1, live", r)
	}
}
