package orchestrator_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

func TestMissingImageTriggersOneBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	ag := h.addAgents(1, "mac", spec.Images)[0]
	image := spec.Images.ImageName("14")
	key := builds.RecordKey(image, ag.host)

	h.waitFor("one build", func() bool { return len(h.bk.Builds()) == 1 })
	h.settle(5)
	builds := h.bk.Builds()
	if len(builds) != 1 {
		t.Fatalf("Got(builds) = %d, want 1", len(builds))
	}
	b := builds[0]
	want := buildkitefake.Build{
		Org: bkOrg, Pipeline: bkPipeline, Branch: "main", Commit: "HEAD",
		Env: map[string]string{
			events.EnvImage: image, events.EnvKey: key, events.EnvRelease: "14", events.EnvBun: "1.2.16",
			events.EnvBootstrap: "3.6", events.EnvTargetHost: ag.host,
		},
		MetaData: map[string]string{events.MetaKey: key, events.MetaImage: image, "vmfleet-attempt": "1"},
	}
	got := buildkitefake.Build{Org: b.Org, Pipeline: b.Pipeline, Branch: b.Branch, Commit: b.Commit, Env: b.Env, MetaData: b.MetaData}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(build) diff (-want +got):\n%s", diff)
	}
	if r := h.waitState(key, events.BuildScheduled); r.Number != b.Number {
		t.Errorf("Got(record number) = %d, want %d", r.Number, b.Number)
	}

	h.bk.Step() // running
	h.bk.Step() // passed: the build step publishes the image on the host
	h.waitState(key, events.BuildPassed)
	h.waitFor("host ready", func() bool { return h.hostReady(ag.host) })
	h.settle(3)
	if got := h.bk.CreatedCount(key); got != 1 {
		t.Errorf("Got(CreatedCount(%s)) = %d, want 1", key, got)
	}
}
