package orchestrator_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// TestTypoSpecSetThenRollback: four agents hold releases 13 and 14 and a
// cleanup window is always open. A typo'd `spec set --releases 99` is
// refused without --yes; confirmed, it makes every host not ready, yet
// within the removal grace no prune command goes and every host keeps its
// 13 and 14 images. `spec rollback`'s preview says it starts no build;
// applied, it makes the 13/14 spec current again and every host ready,
// with no build of its images. The spec's history and the spec
// change events say who, why, which revision and the one before.
func TestTypoSpecSetThenRollback(t *testing.T) {
	t.Parallel()
	g := newGraceFleet(t, 0) // the default budget
	h, spec, start, agents, prunes := g.h, g.spec, g.start, g.agents, g.prunes
	imgs := []string{spec.Images.ImageName("13"), spec.Images.ImageName("14")}
	changeMsgs := h.collectMsgs(h.subj.SpecChange())
	c := h.api(apiToken)
	ctx := t.Context()
	first := h.o.Spec().Revision

	typo := api.SpecUpdate{Releases: []string{"99"}, By: "bob", Reason: "add macOS 15"}
	if _, err := c.SetSpec(ctx, typo); h.status(err) != http.StatusConflict || h.o.Spec().Revision != first {
		t.Fatalf("Got(spec set --releases 99 without --yes) = %v, revision %d, want 409 and nothing written", err, h.o.Spec().Revision)
	}
	typo.Confirm = true // the operator said --yes to the typo
	if _, err := c.SetSpec(ctx, typo); err != nil {
		t.Fatalf("Got(spec set --releases 99 --yes) = %v, want ok", err)
	}
	typoRev := h.o.Spec().Revision // the answer does not carry revisions
	for _, a := range agents {
		h.waitFor(a.host+" not ready on the typo", func() bool { v, ok := h.o.Host(a.host); return ok && v.State == orchestrator.HostNotReady })
		for _, rel := range spec.Images.Releases {
			img := spec.Images.ImageName(rel)
			kept := cleanup.Decision{VM: img, Release: rel, Reason: cleanup.ReasonReleaseRemoved, Rule: cleanup.RuleRemovedGrace}
			h.waitFor(a.host+"'s plan keeps "+img+" in the grace", func() bool {
				v, ok := h.o.Host(a.host)
				return ok && v.Prune != nil && slices.Contains(v.Prune.Plan.Keep, kept)
			})
		}
	}
	// Late in the grace, every host reporting (a scratch VM appears, so
	// the report changed and none is stale), the window still open.
	g.at(start.Add(events.DefaultRemovedGrace - time.Minute))
	for _, a := range agents {
		if v, ok := h.o.Host(a.host); !ok || v.State != orchestrator.HostNotReady {
			t.Errorf("Got(%s after the typo) = %+v, want not ready", a.host, v.State)
		}
	}
	h.settle(5)
	for _, p := range prunes() {
		t.Errorf("Got(prune command within the grace) = %s, want none", p)
	}
	for _, a := range agents {
		for _, img := range imgs {
			if !a.tart.Has(img) {
				t.Errorf("Got(%s has %s within the grace) = false, want true", a.host, img)
			}
		}
	}

	if _, err := c.RollbackSpec(ctx, api.SpecRollback{Revision: typoRev + 100}); h.status(err) != 404 {
		t.Errorf("Got(rollback to an unknown revision) = %v, want 404", err)
	}
	// The rollback's preview: within the grace every host holds the images
	// it restores, so none would be not ready for them and no build starts.
	pv, err := c.PreviewRollback(ctx, api.SpecRollback{})
	if err != nil || pv.Action != "rollback" || !slices.Equal(pv.To.Releases, spec.Images.Releases) || pv.Total.BuildsStart != 0 || pv.Total.Pulls != 0 {
		t.Fatalf("Got(rollback --dry-run) = %+v, %v, want a rollback to 13,14 starting no build", pv, err)
	}
	for _, r := range pv.Releases {
		if r.Release != "99" && (r.ReadyAfter != len(agents) || r.BuildsStart != 0) {
			t.Errorf("Got(rollback preview of macOS %s) = %+v, want every host ready after, no build", r.Release, r)
		}
	}
	if h.o.Spec().Revision != typoRev {
		t.Fatalf("Got(spec after the rollback's dry run) = revision %d, want %d: nothing written", h.o.Spec().Revision, typoRev)
	}
	// It drops release 99, which no host serves: undoing the typo takes
	// nothing from anyone, so it needs no --yes.
	if pv.ConfirmNeeded {
		t.Errorf("Got(rollback preview) confirm needed: %v, want none", pv.Why)
	}
	rb, err := c.RollbackSpec(ctx, api.SpecRollback{By: "alice", Reason: "releases typo"})
	if err != nil {
		t.Fatalf("Got(spec rollback) = %v, want ok", err)
	}
	rbRev := h.o.Spec().Revision
	wantReason := fmt.Sprintf("rollback to revision %d: releases typo", first)
	if !slices.Equal(rb.Images.Releases, spec.Images.Releases) || rb.UpdatedBy != "alice" || rb.Reason != wantReason {
		t.Errorf("Got(rolled back spec) = releases %v by %q because %q, want 13,14 by alice because %q", rb.Images.Releases, rb.UpdatedBy, rb.Reason, wantReason)
	}
	for _, a := range agents {
		h.waitFor(a.host+" ready again", func() bool { return h.hostReady(a.host) })
	}
	h.settle(3)
	for _, a := range agents {
		for _, img := range imgs {
			if n := h.bk.CreatedCount(builds.RecordKey(img, a.host)); n != 0 || !a.tart.Has(img) {
				t.Errorf("Got(%s: builds of %s, has it) = %d, %v, want 0, true", a.host, img, n, a.tart.Has(img))
			}
		}
	}
	if p := prunes(); len(p) != 0 {
		t.Errorf("Got(prune commands) = %v, want none", p)
	}

	hist, err := c.SpecHistory(ctx, 2)
	if err != nil || len(hist.Revisions) != 2 {
		t.Fatalf("Got(spec history --limit 2) = %+v, %v, want 2 revisions", hist, err)
	}
	want := []events.SpecHistoryEntry{
		{Revision: rbRev, Key: events.SpecKey, By: "alice", Reason: wantReason, Previous: typoRev, Changed: "releases 99 → 13,14"},
		{Revision: typoRev, Key: events.SpecKey, By: "bob", Reason: "add macOS 15", Previous: first, Changed: "releases 13,14 → 99"},
	}
	for i, w := range want {
		g := hist.Revisions[i]
		if g.Revision != w.Revision || g.Key != w.Key || g.By != w.By || g.Reason != w.Reason || g.Previous != w.Previous || g.Changed != w.Changed || g.At.IsZero() {
			t.Errorf("Got(history[%d]) = %+v, want %+v", i, g, w)
		}
	}
	h.waitFor("the rollback on the dashboard", func() bool {
		d, err := c.Dashboard(ctx)
		return err == nil && d.Fleet.SpecChange != nil && d.Fleet.SpecChange.Revision == rbRev && d.Fleet.SpecChange.By == "alice"
	})
	h.waitFor("the rollback's spec change event", func() bool { return len(changeMsgs()) >= 2 })
	for i, m := range changeMsgs()[:2] {
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.DecodeData[events.SpecHistoryEntry](env, events.TypeSpecChange)
		w := want[1-i] // oldest first
		if err != nil || ev.Revision != w.Revision || ev.By != w.By || ev.Reason != w.Reason || ev.Previous != w.Previous || ev.Changed != w.Changed {
			t.Errorf("Got(spec change event %d) = %+v, %v, want %+v", i, ev, err, w)
		}
	}
}
