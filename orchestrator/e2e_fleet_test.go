package orchestrator_test

import (
	"fmt"
	"testing"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

func TestRegistryModeOneBuildThenPulls(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}")
	cfg := h.config(spec)
	h.start(cfg)
	pulls := h.collect("vmfleet.cmd.*.pull")
	// 20 real agents and 180 synthetic hosts: 200 agents would take every
	// inotify instance of the machine.
	agents := h.addAgents(20, "mac", spec.Images)
	synth := h.addSynthetic(180, "syn", spec.Images)
	image := spec.Images.ImageName("14")
	key := builds.RecordKey(image, "")

	h.waitFor("200 hosts", func() bool { return len(h.o.Hosts()) == 200 })
	h.waitFor("the build", func() bool { return len(h.bk.Builds()) == 1 })
	h.settle(5)
	if got := len(h.bk.Builds()); got != 1 {
		t.Fatalf("Got(builds for 200 hosts) = %d, want 1", got)
	}
	b := h.bk.Builds()[0]
	if got, want := b.Env[events.EnvRegistryRef], "ghcr.io/acme/bun-build-macos-14:1.2.16-bootstrap-3.6"; got != want {
		t.Errorf("Got(%s) = %q, want %q", events.EnvRegistryRef, got, want)
	}
	if got, ok := b.Env[events.EnvTargetHost]; ok {
		t.Errorf("Got(%s) = %q, want unset in registry mode", events.EnvTargetHost, got)
	}
	if got := len(pulls()); got != 0 {
		t.Errorf("Got(pulls before the build passed) = %d, want 0", got)
	}

	maxInFlight := 0.0
	h.bk.Step()
	h.bk.Step()
	h.waitState(key, events.BuildPassed)
	h.waitFor("every host ready", func() bool {
		maxInFlight = max(maxInFlight, h.metric("vmfleet_orchestrator_pulls_in_flight"))
		for _, v := range h.o.Hosts() {
			if v.State != orchestrator.HostReady {
				return false
			}
		}
		return true
	})
	h.settle(3)
	if got := len(pulls()); got != 200 {
		t.Errorf("Got(pull commands) = %d, want 200 (one per host)", got)
	}
	if got := synth.pulls.Load(); got != 180 {
		t.Errorf("Got(pulls answered by synthetic hosts) = %d, want 180", got)
	}
	if maxInFlight > float64(cfg.Pulls.Concurrency) {
		t.Errorf("Got(max pulls in flight) = %v, want <= %d", maxInFlight, cfg.Pulls.Concurrency)
	}
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Errorf("Got(CreatedCount) = %d, want 1", got)
	}
	for _, a := range agents[:3] {
		if !a.tart.Has(image) {
			t.Errorf("Got(%s has %s) = false, want true", a.host, image)
		}
	}
}

func TestHostModeOneBuildPerHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	agents := h.addAgents(5, "mac", spec.Images)
	image := spec.Images.ImageName("14")

	h.waitFor("5 builds", func() bool { return len(h.bk.Builds()) == 5 })
	h.settle(5)
	byHost := map[string]int{}
	for _, b := range h.bk.Builds() {
		host := b.Env[events.EnvTargetHost]
		byHost[host]++
		if want := builds.RecordKey(image, host); b.MetaData[events.MetaKey] != want || b.Env[events.EnvKey] != want {
			t.Errorf("Got(build %d key) = %q/%q, want %q", b.Number, b.MetaData[events.MetaKey], b.Env[events.EnvKey], want)
		}
	}
	for _, a := range agents {
		if byHost[a.host] != 1 {
			t.Errorf("Got(builds pinned to %s) = %d, want 1", a.host, byHost[a.host])
		}
	}
	if len(byHost) != 5 {
		t.Errorf("Got(hosts with builds) = %v, want the 5 agents", byHost)
	}
	h.bk.Step()
	h.bk.Step()
	for _, a := range agents {
		h.waitFor(fmt.Sprintf("%s ready", a.host), func() bool { return h.hostReady(a.host) })
	}
	h.settle(3)
	if got := len(h.bk.Builds()); got != 5 {
		t.Errorf("Got(builds after all passed) = %d, want 5", got)
	}
}
