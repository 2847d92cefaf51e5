package orchestrator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// beforeWindow is 1h30 before the 03:00 UTC cleanup window opens: hosts
// (heartbeat 1h, stale after 3h) stay fresh when the clock moves into it.
var beforeWindow = time.Date(2025, 3, 2, 1, 30, 0, 0, time.UTC)

const imgSize = 60 // GB, each VM's size on disk

// pruneSpec is testSpec with a daily window 03:00–04:00 UTC.
func pruneSpec() events.Spec {
	s := testSpec("")
	s.Cleanup = events.CleanupPolicy{KeepBunVersions: 1,
		Windows: []events.Window{{Schedule: "0 3 * * *", Duration: events.Duration(time.Hour)}}}
	return s
}

// readyAgents starts n agents on the harness clock, each holding spec's image
// of release 14 (and extra VMs), and waits until each reported it ready. Call
// it before start, so the orchestrator's first view is a ready fleet.
func readyAgents(h *harness, n int, im events.ImageSpec, extra ...events.VM) []*testAgent {
	h.t.Helper()
	agents := h.addAgents(n, "mac", im, agentd.WithClock(h.clock.Now))
	for _, a := range agents {
		a.tart.Add(append([]events.VM{{Name: im.ImageName("14"), SizeGB: imgSize}}, extra...)...)
		a.a.Trigger()
	}
	for _, a := range agents {
		h.waitFor(a.host+" ready on its own", func() bool {
			l, ok := a.a.Latest()
			return ok && l.Ready
		})
	}
	return agents
}

// api is a client of the orchestrator's API with token.
func (h *harness) api(token string) *api.Client { return api.NewClient(h.hookURL, token) }

// status is the HTTP status of an API call's answer.
func (h *harness) status(err error) int {
	h.t.Helper()
	if err == nil {
		return http.StatusOK
	}
	code := api.StatusCode(err)
	if code == 0 {
		h.t.Fatal(err)
	}
	return code
}

// setSpec is an operator's spec set with token; it returns the status and
// the spec in force.
func (h *harness) setSpec(token string, u api.SpecUpdate) (events.Spec, int) {
	h.t.Helper()
	s, err := h.api(token).SetSpec(h.t.Context(), u)
	return s, h.status(err)
}

// prune is an operator's prune of host with token; it returns the answer
// and the status.
func (h *harness) prune(host, token string, req api.PruneHostRequest) (api.PruneHostResponse, int) {
	h.t.Helper()
	resp, err := h.api(token).Prune(h.t.Context(), host, req)
	return resp, h.status(err)
}

// post sends a raw JSON body (one the API's types could not spell) with
// token; it returns the status and decodes a 200 answer into out.
func (h *harness) post(path, token string, body, out any) int {
	h.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.hookURL+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			h.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// outcomes decodes the prune outcomes seen on a collector, by host.
func outcomesByHost(t *testing.T, msgs func() []*nats.Msg) map[string][]events.PruneOutcome {
	t.Helper()
	out := map[string][]events.PruneOutcome{}
	for _, m := range msgs() {
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		o, err := events.DecodeData[events.PruneOutcome](env, events.TypePrune)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Host] = append(out[o.Host], o)
	}
	return out
}

func countBy(subjects []string) map[string]int {
	out := map[string]int{}
	for _, s := range subjects {
		out[s]++
	}
	return out
}

// TestPruneAfterBootstrapChange is issue 5's end to end: 20 agents ready on
// bootstrap 3.6; `spec set --bootstrap 3.7` through the API; the builds run
// and every host becomes ready on 3.7; nothing is pruned before the window;
// once it opens every 3.6 image goes, except one that started running after
// its host's last report: the agent skips it (busy) and it stays.
//
// The removal grace counts from the spec bucket's (the server's, real) time
// of a change; this test is about windows and busy VMs, so its clock starts
// on a day past the grace (the grace has tests of its own).
func TestPruneAfterBootstrapChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := time.Now().UTC().Add(events.DefaultRemovedGrace + 24*time.Hour)
	day := func(hour, min int) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), hour, min, 0, 0, time.UTC)
	}
	h.clock.Set(day(1, 30)) // as beforeWindow
	spec := pruneSpec()
	spec.Cleanup.MaxPruneHostsFraction = 1 // the whole fleet in one window: the budget has tests of its own
	agents := readyAgents(h, 20, spec.Images)
	h.start(h.config(spec))
	cmds := h.collect("vmfleet.cmd.*.prune")
	outMsgs := h.collectMsgs("vmfleet.prune.>")
	old := spec.Images.ImageName("14")
	for _, a := range agents {
		h.waitFor(a.host+" ready", func() bool { return h.hostReady(a.host) })
	}

	if _, got := h.setSpec("", api.SpecUpdate{BootstrapVersion: ptr("3.7")}); got != http.StatusUnauthorized {
		t.Errorf("Got(spec set without token) = %d, want 401", got)
	}
	set, got := h.setSpec(apiToken, api.SpecUpdate{BootstrapVersion: ptr("3.7"), By: "test", Confirm: true})
	if got != http.StatusOK {
		t.Fatalf("Got(spec set) = %d, want 200", got)
	}
	next := spec.Images
	next.BootstrapVersion = "3.7"
	if set.Images.BootstrapVersion != "3.7" || set.UpdatedBy != "test" || len(set.Cleanup.Windows) != 1 {
		t.Errorf("Got(spec set) = %+v, want bootstrap 3.7 by test, the windows kept", set)
	}
	newImage := next.ImageName("14")
	h.waitFor("20 builds of 3.7", func() bool { return len(h.bk.Builds()) == 20 })
	h.bk.Step()
	h.bk.Step()
	for _, a := range agents {
		h.waitFor(a.host+" ready on 3.7", func() bool {
			v, ok := h.o.Host(a.host)
			return ok && v.State == orchestrator.HostReady && v.Releases[0].ExpectedImage == newImage
		})
	}

	// Outside the window: nothing goes, and the API says when it opens.
	h.settle(5)
	if got := len(cmds()); got != 0 {
		t.Fatalf("Got(prune commands outside the window) = %d, want 0", got)
	}
	v, _ := h.o.Host(agents[0].host)
	wantPlan := []cleanup.Decision{
		{VM: old, Release: "14", Reason: cleanup.ReasonBootstrapOutdated, Rule: cleanup.RuleOutsideWindow},
		{VM: newImage, Release: "14", Rule: cleanup.RuleExpectedImage},
	}
	if v.Prune == nil || !cmp.Equal(v.Prune.Plan.Keep, wantPlan) || len(v.Prune.Plan.Prune) != 0 {
		t.Errorf("Got(host prune plan) = %+v, want %+v kept", v.Prune, wantPlan)
	}
	if want := day(3, 0); v.Prune == nil || v.Prune.Window.Open || !v.Prune.Window.Opens.Equal(want) {
		t.Errorf("Got(window) = %+v, want closed, opening at %s", v.Prune, want)
	}

	// A job starts on one host's old image after its last report.
	busy := agents[7]
	busy.tart.SetState(old, events.VMRunning)
	h.clock.Set(day(3, 10))
	h.o.Trigger()
	for _, a := range agents {
		if a == busy {
			continue
		}
		h.waitFor(a.host+" pruned", func() bool { return !a.tart.Has(old) })
	}
	h.waitFor("an outcome from every host", func() bool { return len(outcomesByHost(t, outMsgs)) == len(agents) })
	h.waitFor("every prune's reply", func() bool {
		return h.metric("vmfleet_orchestrator_prunes_total", "result", "ok")+h.metric("vmfleet_orchestrator_prunes_total", "result", "failed") == 20
	})
	h.settle(5)

	byHost := outcomesByHost(t, outMsgs)
	if got, want := byHost[busy.host], []events.PruneOutcome{{Host: busy.host, VM: old, Result: events.PruneSkipped, Reason: string(cleanup.RuleBusy)}}; !cmp.Equal(stripAt(got), want) {
		t.Errorf("Got(outcomes of the busy host) = %+v, want %+v", got, want)
	}
	if !busy.tart.Has(old) {
		t.Errorf("Got(busy host still has %s) = false, want true", old)
	}
	for _, a := range agents {
		if !a.tart.Has(newImage) {
			t.Errorf("Got(%s has %s) = false, want true", a.host, newImage)
		}
		if got := countBy(cmds())["vmfleet.cmd."+a.host+".prune"]; got != 1 {
			t.Errorf("Got(prune commands to %s) = %d, want 1", a.host, got)
		}
		if a != busy && (len(byHost[a.host]) != 1 || byHost[a.host][0].Result != events.PruneDeleted) {
			t.Errorf("Got(outcomes of %s) = %+v, want one deleted", a.host, byHost[a.host])
		}
	}
	h.waitFor("outcome metrics", func() bool {
		return h.metric("vmfleet_orchestrator_pruned_vms_total", "result", "deleted") == 19 &&
			h.metric("vmfleet_orchestrator_pruned_vms_total", "result", "skipped") == 1
	})
	for name, want := range map[string]float64{
		"ok": 19, "failed": 1,
	} {
		if got := h.metric("vmfleet_orchestrator_prunes_total", "result", name); got != want {
			t.Errorf("Got(prunes_total{%s}) = %v, want %v", name, got, want)
		}
	}
	if got, want := h.metric("vmfleet_orchestrator_prune_freed_bytes_total"), 19*imgSize*1e9; got != want {
		t.Errorf("Got(freed bytes) = %v, want %v", got, want)
	}
	if v, _ := h.o.Host(busy.host); v.Prune == nil || len(v.Prune.Recent) != 1 || v.Prune.Status.Failures != 1 {
		t.Errorf("Got(busy host's prune view) = %+v, want its skipped outcome and one failure", v.Prune)
	}
}

func ptr[T any](v T) *T { return &v }

func stripAt(os []events.PruneOutcome) []events.PruneOutcome {
	out := make([]events.PruneOutcome, len(os))
	for i, o := range os {
		o.At, o.SizeGB = time.Time{}, 0
		out[i] = o
	}
	return out
}
