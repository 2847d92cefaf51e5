package orchestrator

import (
	"slices"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// stagedView is the staged spec prepared once per pass, or nil when no
// rollout is in progress.
type stagedView struct {
	spec *events.Spec
	*specView
}

// stagedView prepares the staged spec's releases as view does the current
// spec's.
func (o *Orchestrator) stagedView() *stagedView {
	next := o.next.Load()
	if next == nil {
		return nil
	}
	return &stagedView{spec: next, specView: o.viewOf(next.Images)}
}

// deriveStaged adds (stale hosts excepted), into the pass's staged wants, what one host needs for
// the staged spec: for each staged release reported missing (image_missing,
// never no_space: the agent would refuse it) against this very staged
// revision, a pull, the fleet's build or the host's own build, as
// deriveHost does for the current spec (deriveMissing). Never a prune to make room.
func (o *Orchestrator) deriveStaged(host string, hs *hostState, v *stagedView, now time.Time, w *wants) {
	if v == nil || hs.h.NextRevision != v.spec.Revision || o.fleet.stale(hs, now) {
		return
	}
	deriveMissing(host, hs, hs.h.Staged, v.specView,
		func(p pullWant) { w.stagedPulls = append(w.stagedPulls, p) },
		func(b builds.Want) { w.stagedBuilds = append(w.stagedBuilds, b) })
}

// queueStaged puts the staged spec's wants after the current spec's, so a
// rollout never delays healing the current spec: the fleet-wide caps fill
// with current builds and pulls first.
func (w *wants) queueStaged() {
	for _, b := range w.stagedBuilds {
		w.addBuild(b)
	}
	w.pulls = append(w.pulls, w.stagedPulls...)
}

// rolloutCounter counts a staged rollout's progress over one summary walk.
type rolloutCounter struct {
	next *events.Spec
	r    *events.Rollout
}

func newRolloutCounter(next *events.Spec) *rolloutCounter {
	if next == nil {
		return nil
	}
	r := &events.Rollout{NextRevision: next.Revision, AutoPromote: next.AutoPromote,
		Releases: make([]events.StagedReadiness, len(next.Images.Releases))}
	for i, rel := range next.Images.Releases {
		r.Releases[i] = events.StagedReadiness{Release: rel, Image: next.Images.ImageName(rel)}
	}
	return &rolloutCounter{next: next, r: r}
}

// add counts one non-stale host.
func (c *rolloutCounter) add(h *events.HostHealth) {
	if c == nil {
		return
	}
	c.r.Hosts++
	if stagedReady(h, c.next) {
		c.r.Ready++
	}
	for i := range c.r.Releases {
		sr := &c.r.Releases[i]
		sr.Total++
		if h.NextRevision != c.next.Revision {
			continue
		}
		if st, ok := h.StagedStatus(sr.Release); ok && st.ExpectedImage == sr.Image {
			switch {
			case st.Ready:
				sr.Ready++
			case st.Reason == events.ReasonNoSpace:
				sr.NoSpace++
			}
		}
	}
}

// finish adds the builds and pulls in flight of each staged image.
func (c *rolloutCounter) finish(o *Orchestrator) *events.Rollout {
	if c == nil {
		return nil
	}
	idx := make(map[string]int, len(c.r.Releases))
	for i, sr := range c.r.Releases {
		idx[sr.Image] = i
	}
	for _, rec := range o.builds.Records() {
		if i, ok := idx[rec.Image]; ok && liveBuild(rec.State) {
			c.r.Releases[i].Builds++
		}
	}
	for hi := range o.pulls.InFlightPairs() {
		if i, ok := idx[hi.Image]; ok {
			c.r.Releases[i].Pulls++
		}
	}
	return c.r
}

// liveBuild reports whether a build in state s is still to finish.
func liveBuild(s events.BuildState) bool {
	return s == events.BuildRequested || s == events.BuildScheduled || s == events.BuildRunning
}

// sameRollout compares two rollouts' progress.
func sameRollout(a, b *events.Rollout) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.NextRevision == b.NextRevision && a.Hosts == b.Hosts && a.Ready == b.Ready &&
		a.AutoPromote == b.AutoPromote && slices.Equal(a.Releases, b.Releases)
}
