package orchestrator_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// known reports whether the orchestrator has a report from host.
func (h *harness) known(host string) bool {
	_, _, ok := h.o.HostSeq(host)
	return ok
}

// forgotten decodes the fleet.forget events seen so far.
func (h *harness) forgotten(msgs func() []*nats.Msg) []events.HostForgotten {
	h.t.Helper()
	var out []events.HostForgotten
	for _, m := range msgs() {
		env, err := events.Decode(m.Data)
		if err != nil {
			h.t.Fatalf("fleet.forget event: %v", err)
		}
		f, err := events.DecodeData[events.HostForgotten](env, events.TypeHostForgotten)
		if err != nil {
			h.t.Fatalf("fleet.forget data: %v", err)
		}
		out = append(out, f)
	}
	return out
}

// A forgotten host stays forgotten across an orchestrator restart (the
// replay of the stream must not bring it back) until it reports again.
func TestForgetHostSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	h.start(cfg)
	h.publishHealth("mac-01", 1, spec.Images, true)
	h.publishHealth("mac-07", 1, spec.Images, true)
	h.waitFor("both hosts known", func() bool { return h.known("mac-01") && h.known("mac-07") })
	msgs := h.collectMsgs(h.subj.HostForgotten())

	if _, err := h.api("").ForgetHost(t.Context(), "mac-07", api.ForgetHostRequest{}); h.status(err) != http.StatusUnauthorized && h.status(err) != http.StatusForbidden {
		t.Fatalf("Got(forget without token) = %v, want 401 or 403", err)
	}
	if _, err := h.api(apiToken).ForgetHost(t.Context(), "mac-99", api.ForgetHostRequest{}); h.status(err) != http.StatusNotFound {
		t.Fatalf("Got(forget unknown host) = %v, want 404", err)
	}
	ev, err := h.api(apiToken).ForgetHost(t.Context(), "mac-07", api.ForgetHostRequest{By: "alice", Reason: "retired"})
	if err != nil {
		t.Fatalf("forget mac-07: %v", err)
	}
	if ev.Host != "mac-07" || ev.By != "alice" || ev.Reason != "retired" || ev.Auto {
		t.Errorf("Got(forget answer) = %+v, want mac-07 by alice, retired", ev)
	}
	if h.known("mac-07") || !h.known("mac-01") {
		t.Fatalf("after forget: mac-07 known %v, mac-01 known %v; want false, true", h.known("mac-07"), h.known("mac-01"))
	}
	h.waitFor("fleet.forget event", func() bool { return len(msgs()) == 1 })
	if got := h.forgotten(msgs)[0]; got.Host != "mac-07" || got.By != "alice" || got.Reason != "retired" {
		t.Errorf("Got(fleet.forget event) = %+v, want mac-07 by alice, retired", got)
	}

	h.stopO()
	h.start(cfg)
	h.waitFor("mac-01 replayed", func() bool { return h.known("mac-01") })
	h.settle(2)
	if h.known("mac-07") {
		t.Fatal("mac-07 is known again after a restart, want it forgotten")
	}
	if got := h.metric("vmfleet_orchestrator_hosts", "state", "ready"); got != 1 {
		t.Errorf("Got(hosts ready after restart) = %v, want 1 (mac-01 only)", got)
	}

	h.publishHealth("mac-07", 2, spec.Images, true)
	h.waitFor("mac-07 back after reporting again", func() bool { return h.known("mac-07") })
	h.stopO()
	h.start(cfg)
	h.waitFor("mac-07 replayed after it reported again", func() bool { return h.known("mac-07") })
}

// hosts.forget_after forgets a host stale that long (on the orchestrator's
// clock), for good across a restart, and the stale count stops counting it.
func TestForgetAfterForgetsStaleHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	cfg.Hosts.ForgetAfter = time.Hour
	h.start(cfg)
	msgs := h.collectMsgs(h.subj.HostForgotten())
	h.publishHealth("mac-07", 1, spec.Images, true) // heartbeat 1h: stale after 3h
	h.waitFor("mac-07 known", func() bool { return h.known("mac-07") })

	h.clock.Add(3*time.Hour + 30*time.Minute) // stale, not yet for forget_after
	h.settle(2)
	if !h.known("mac-07") {
		t.Fatal("mac-07 forgotten 30m into staleness, want it kept until forget_after (1h)")
	}
	if got := h.metric("vmfleet_orchestrator_hosts", "state", "stale"); got != 1 {
		t.Errorf("Got(stale hosts) = %v, want 1", got)
	}

	h.clock.Add(31 * time.Minute)
	h.settle(2)
	if h.known("mac-07") {
		t.Fatal("mac-07 still known after stale for forget_after")
	}
	if got := h.metric("vmfleet_orchestrator_hosts", "state", "stale"); got != 0 {
		t.Errorf("Got(stale hosts after forget) = %v, want 0", got)
	}
	h.waitFor("fleet.forget event", func() bool { return len(msgs()) == 1 })
	if got := h.forgotten(msgs)[0]; got.Host != "mac-07" || !got.Auto || got.By != "" {
		t.Errorf("Got(fleet.forget event) = %+v, want mac-07, auto", got)
	}

	h.stopO()
	h.start(cfg)
	h.settle(2)
	if h.known("mac-07") {
		t.Fatal("mac-07 is known again after a restart, want it forgotten")
	}
}

// A follower replica drops the host the leader forgets, and takes it back
// when it reports again.
func TestForgetReachesFollower(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	fcfg := h.config(spec)
	fcfg.Instance = "follower"
	f, err := h.w.NewOrchestrator(fcfg, orchestrator.WithClock(h.clock.Now), orchestrator.WithLeader(func() bool { return false }),
		orchestrator.WithLogger(testLogger(t, slog.LevelInfo).With("component", "follower")))
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(func() {
		if err := f.Stop(10 * time.Second); err != nil {
			t.Errorf("follower Run: %v", err)
		}
	})
	h.waitFor("follower ready", f.Ready)
	followerKnows := func(host string) bool { _, _, ok := f.HostSeq(host); return ok }

	h.publishHealth("mac-07", 1, spec.Images, true)
	h.waitFor("both replicas know mac-07", func() bool { return h.known("mac-07") && followerKnows("mac-07") })
	if _, err := h.api(apiToken).ForgetHost(t.Context(), "mac-07", api.ForgetHostRequest{By: "alice"}); err != nil {
		t.Fatalf("forget mac-07: %v", err)
	}
	h.waitFor("follower forgets mac-07", func() bool { return !followerKnows("mac-07") })

	h.clock.Add(time.Second)
	h.publishHealth("mac-07", 2, spec.Images, true)
	h.waitFor("both replicas know mac-07 again", func() bool { return h.known("mac-07") && followerKnows("mac-07") })
}
