package orchestrator_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestSpecChangePreviewGate: two agents hold releases 13 and 14, ready. A
// dry run of `spec set --releases 14` answers the preview (release 13
// removed, both hosts not ready for it, confirmation needed) and writes
// nothing to KV bucket vmfleet_spec; the set without confirm is refused
// with 409 and the same preview, and writes nothing; so are a promote's dry
// run and its refusal. A stage removing a release with auto-promote is
// refused. With confirm the set applies.
func TestSpecChangePreviewGate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	spec.Images.Releases = []string{"13", "14"}
	agents := h.addAgents(2, "mac", spec.Images)
	h.holdCurrent(spec.Images, agents...)
	h.start(h.config(spec))
	for _, a := range agents {
		h.waitFor(a.host+" ready", func() bool { return h.hostReady(a.host) })
	}
	kv, err := h.w.JetStream.KeyValue(h.ctx, events.BucketSpec)
	if err != nil {
		t.Fatal(err)
	}
	// written is how many values the spec bucket has taken so far.
	written := func() uint64 {
		st, err := kv.Status(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Values()
	}
	c := h.api(apiToken)
	typo := api.SpecUpdate{Releases: []string{"14"}, By: "typo"}
	before, inForce := written(), h.o.Spec()
	unchanged := func(step string) {
		t.Helper()
		if got := written(); got != before {
			t.Errorf("Got(%s: values in %s) = %d, want %d: nothing written", step, events.BucketSpec, got, before)
		}
		if got := h.o.Spec(); !slices.Equal(got.Images.Releases, inForce.Images.Releases) || got.Revision != inForce.Revision {
			t.Errorf("Got(%s: spec in force) = %+v, want it unchanged", step, got)
		}
	}

	p, err := c.PreviewSpec(h.ctx, typo)
	if err != nil {
		t.Fatalf("Got(dry run) = %v, want the preview", err)
	}
	if !p.ConfirmNeeded || !slices.Equal(p.Removed, []string{"13"}) || p.Hosts != 2 || p.Total.NotReady != 2 {
		t.Errorf("Got(dry run) = %+v, want release 13 removed, 2 of 2 hosts not ready, confirmation needed", p)
	}
	unchanged("dry run")
	confirmed := typo
	confirmed.Confirm = true
	if _, err := c.PreviewSpec(h.ctx, confirmed); err != nil {
		t.Fatalf("Got(dry run with confirm) = %v, want the preview", err)
	}
	unchanged("dry run with confirm")

	_, err = c.SetSpec(h.ctx, typo)
	if got := h.status(err); got != http.StatusConflict {
		t.Fatalf("Got(set without confirm) = %d (%v), want 409", got, err)
	}
	if r, ok := api.Refusal(err); !ok || !r.ConfirmNeeded || !slices.Equal(r.Removed, []string{"13"}) {
		t.Errorf("Got(refusal's preview) = %+v, %v, want release 13 removed, confirmation needed", r, ok)
	}
	unchanged("refused set")

	if _, err := c.StageSpec(h.ctx, api.SpecUpdate{BootstrapVersion: ptr("3.7")}); err != nil {
		t.Fatal(err)
	}
	before = written()
	pp, err := c.PreviewPromote(h.ctx, api.SpecPromote{})
	if err != nil || pp.Action != "promote" || !pp.ConfirmNeeded || pp.Total.NotReady != 2 {
		t.Errorf("Got(promote dry run) = %+v, %v, want 2 hosts not ready (no staged image yet), confirmation needed", pp, err)
	}
	if _, err := c.PromoteSpec(h.ctx, api.SpecPromote{}); h.status(err) != http.StatusConflict {
		t.Errorf("Got(promote without confirm) = %v, want 409", err)
	}
	unchanged("promote refused")
	if h.o.Next() == nil {
		t.Errorf("Got(staged spec after a refused promote) = nil, want it still staged")
	}

	if err := c.UnstageSpec(h.ctx); err != nil {
		t.Fatal(err)
	}
	// A share of hosts cannot confirm a release's removal.
	_, err = c.StageSpec(h.ctx, api.SpecUpdate{Releases: []string{"14"}, AutoPromote: ptr(0.9)})
	if h.status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "auto_promote") {
		t.Errorf("Got(stage removing a release with auto-promote) = %v, want 400 naming auto_promote", err)
	}
	set, err := c.SetSpec(h.ctx, confirmed)
	if err != nil || !slices.Equal(set.Images.Releases, []string{"14"}) {
		t.Fatalf("Got(set with confirm) = %+v, %v, want releases [14]", set, err)
	}
	if got := h.o.Spec(); !slices.Equal(got.Images.Releases, []string{"14"}) {
		t.Errorf("Got(spec in force after a confirmed set) = %v, want [14]", got.Images.Releases)
	}
}

// TestSpecPreviewCountsHostsWithoutRoom: through the real server, two
// agents hold both 20 GB images; one reports 30 GB free. The preview of a
// bootstrap bump counts that host as without room for release 14's new
// image (release 13's takes the room first), and the other host as fine.
func TestSpecPreviewCountsHostsWithoutRoom(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	spec.Images.Releases = []string{"13", "14"}
	roomy := h.addAgents(1, "mac", spec.Images)[0]
	full := h.addAgents(1, "full", spec.Images, agentd.WithDisk(func(path string) *events.Disk {
		return &events.Disk{Path: path, FreeBytes: 30e9, TotalBytes: 500e9}
	}))[0]
	h.holdCurrent(spec.Images, roomy, full)
	h.start(h.config(spec))
	for _, a := range []*testAgent{roomy, full} {
		h.waitFor(a.host+" ready", func() bool { return h.hostReady(a.host) })
	}
	p, err := h.api(apiToken).PreviewSpec(h.ctx, api.SpecUpdate{BootstrapVersion: ptr("3.7")})
	if err != nil {
		t.Fatalf("Got(dry run) = %v, want the preview", err)
	}
	got := map[string]int{}
	for _, r := range p.Releases {
		got[r.Release] = r.NoSpace
	}
	if got["13"] != 0 || got["14"] != 1 || p.Total.NoSpace != 1 || p.Hosts != 2 {
		t.Errorf("Got(no_space per release, hosts without room, hosts) = %v, %d, %d, want 13: 0, 14: 1; 1; 2", got, p.Total.NoSpace, p.Hosts)
	}
}
