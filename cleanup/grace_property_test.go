package cleanup

import (
	"slices"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"pgregory.net/rapid"
)

// rollout is a random history of the spec keys (set, stage, promote,
// unstage, rollback), the clock moving by less than the grace between
// changes, as the KV bucket records it.
type rollout struct {
	grace time.Duration // in force: every spec carries the same policy
	hist  []events.SpecRevision
	// active[i] is the set of active image names after hist[i].
	active []map[string]bool
	cur    *events.Spec
	next   *events.Spec
	at     time.Time
}

func (r *rollout) write(key string, s *events.Spec) {
	e := events.SpecRevision{Revision: uint64(len(r.hist) + 1), Key: key, At: r.at, Deleted: s == nil}
	if s != nil {
		e.Spec = *s
	}
	if key == events.SpecKey {
		r.cur = s
	} else {
		r.next = s
	}
	r.hist = append(r.hist, e)
	r.active = append(r.active, activeNames(r.cur, r.next))
}

func activeNames(specs ...*events.Spec) map[string]bool {
	m := map[string]bool{}
	for _, s := range specs {
		if s != nil {
			for _, rel := range s.Images.Releases {
				m[s.Images.ImageName(rel)] = true
			}
		}
	}
	return m
}

func drawRolloutSpec(t *rapid.T, policy events.CleanupPolicy) *events.Spec {
	return &events.Spec{
		Images: events.ImageSpec{
			NameTemplate:     events.DefaultNameTemplate,
			Releases:         rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"13", "14", "15"}), 1, 2, rapid.ID[string]).Draw(t, "releases"),
			BunVersion:       rapid.SampledFrom([]string{"1.2.15", "1.2.16", "1.3"}).Draw(t, "bun"),
			BootstrapVersion: rapid.SampledFrom([]string{"3.6", "3.7"}).Draw(t, "bootstrap"),
		},
		Cleanup: policy,
	}
}

func drawRollout(t *rapid.T) *rollout {
	stored := rapid.SampledFrom([]time.Duration{0, time.Hour, 6 * time.Hour}).Draw(t, "removed_grace")
	policy := events.CleanupPolicy{RemovedGrace: events.Duration(stored), DiskEmergencyFreeBytes: 10 * gb}
	r := &rollout{grace: policy.Grace(), at: utc("2026-12-01T10:00:00Z")}
	r.write(events.SpecKey, drawRolloutSpec(t, policy))
	for range rapid.IntRange(0, 8).Draw(t, "changes") {
		r.at = r.at.Add(time.Duration(rapid.Int64Range(0, int64(r.grace)).Draw(t, "clock")))
		switch op := rapid.SampledFrom([]string{"set", "stage", "promote", "unstage", "rollback"}).Draw(t, "op"); {
		case op == "set":
			r.write(events.SpecKey, drawRolloutSpec(t, policy))
		case op == "stage":
			r.write(events.NextSpecKey, drawRolloutSpec(t, policy))
		case op == "promote" && r.next != nil:
			r.write(events.SpecKey, r.next)
			r.write(events.NextSpecKey, nil)
		case op == "unstage" && r.next != nil:
			r.write(events.NextSpecKey, nil)
		case op == "rollback":
			var olds []events.Spec
			for _, h := range r.hist {
				if h.Key == events.SpecKey && !h.Deleted {
					olds = append(olds, h.Spec)
				}
			}
			old := rapid.SampledFrom(olds).Draw(t, "rollback to")
			r.write(events.SpecKey, &old)
		}
	}
	return r
}

// protected is every image name active at some instant of (now-grace, now].
func (r *rollout) protected(now time.Time) map[string]bool {
	m := map[string]bool{}
	for i, names := range r.active {
		if i+1 < len(r.hist) && !r.hist[i+1].At.Add(r.grace).After(now) {
			continue // stopped being this set at or before now-grace
		}
		for n := range names {
			m[n] = true
		}
	}
	return m
}

// TestPlanNeverPrunesWithinTheGrace: for any history of spec changes and
// clock moves inside the removal grace, Plan (with Retain from
// events.Retained over that history) prunes no image of a spec active within
// the grace; in a disk emergency it prunes no image an active spec expects;
// and everything else that is outdated goes (the grace does not over-keep).
func TestPlanNeverPrunesWithinTheGrace(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		r := drawRollout(t)
		now := r.at.Add(time.Duration(rapid.Int64Range(0, 2*int64(r.grace)).Draw(t, "now")))
		emergency := rapid.Bool().Draw(t, "disk emergency")

		cur := r.cur.Images
		in := Input{
			Spec: cur, Policy: r.cur.Cleanup, Now: now, Window: WindowState{Open: true},
			PruneNow: rapid.Bool().Draw(t, "prune now"),
			Retain:   events.Retained(r.hist, now),
			Disk:     &events.Disk{FreeBytes: 100 * gb, TotalBytes: 500 * gb},
		}
		if r.next != nil {
			in.Next = &r.next.Images
		}
		if emergency {
			in.Disk.FreeBytes = gb
		}
		names := map[string]bool{}
		for _, h := range r.hist {
			for _, rel := range h.Spec.Images.Releases {
				names[h.Spec.Images.ImageName(rel)] = true
			}
		}
		for range rapid.IntRange(0, 3).Draw(t, "others") {
			names[drawRolloutSpec(t, in.Policy).Images.ImageName(rapid.SampledFrom([]string{"12", "13", "14", "15"}).Draw(t, "release"))] = true
		}
		for _, n := range sortedNames(names) {
			in.VMs = append(in.VMs, local(n, events.VMStopped))
		}
		for _, rel := range cur.Releases {
			in.Releases = append(in.Releases, status(rel, cur.ImageName(rel), true, events.ReasonReady))
		}

		res := Plan(in)
		active := activeNames(r.cur, r.next)
		protected := r.protected(now)
		for _, d := range res.Prune {
			switch {
			case active[d.VM]:
				t.Fatalf("pruned %s, an image of an active spec (emergency %v)", d.VM, emergency)
			case protected[d.VM] && !emergency:
				t.Fatalf("pruned %s, active within the grace of %v before %v: %+v", d.VM, r.grace, now, in.Retain)
			}
		}
		for _, vm := range in.VMs {
			ref, _ := cur.ParseName(vm.Name)
			outdated := !cur.HasRelease(ref.Release) || ref.Bootstrap != cur.BootstrapVersion || events.CompareVersions(ref.Bun, cur.BunVersion) < 0
			if outdated && !active[vm.Name] && (!protected[vm.Name] || emergency) && !slices.ContainsFunc(res.Prune, func(d Decision) bool { return d.VM == vm.Name }) {
				t.Fatalf("kept %s, outdated and out of the grace: %+v (retain %+v)", vm.Name, res.Keep, in.Retain)
			}
		}
	})
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
