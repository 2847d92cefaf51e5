package orchestrator

import (
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
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
func (o *Orchestrator) deriveStaged(host string, hs *hosts.State, v *stagedView, now time.Time, w *wants) {
	if v == nil || hs.Health.NextRevision != v.spec.Revision || o.fleet.Stale(hs, now) {
		return
	}
	deriveMissing(host, hs, hs.Health.Staged, v.specView,
		func(p pullWant) { w.stagedPulls = append(w.stagedPulls, p) },
		func(b builds.Want) { w.stagedBuilds = append(w.stagedBuilds, b) })
}

// queue fixes the order in which the pass's wants go out: the staged
// spec's after the current spec's, so a rollout never delays healing the
// current spec (the fleet-wide caps fill with current builds and pulls
// first), and within each the hosts with more pulls to do first
// (pulls.Order).
func (w *wants) queue() {
	for _, b := range w.stagedBuilds {
		w.addBuild(b)
	}
	pulls.Order(w.pulls)
	pulls.Order(w.stagedPulls)
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
	r := &events.Rollout{NextRevision: next.Revision, AutoPromote: next.AutoPromote, StagedAt: next.UpdatedAt,
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
	noSpace := false
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
				noSpace = true
			}
		}
	}
	if noSpace {
		c.r.NoSpace++
	}
}

// finish adds what the staged spec changes, the builds and pulls in
// flight of each staged image, and what the progress tracker derives (the
// auto-promote's hosts, the ETA, from the staged builds' start and the
// finished builds' durations).
func (c *rolloutCounter) finish(o *Orchestrator) *events.Rollout {
	if c == nil {
		return nil
	}
	c.r.Changes = rollout.Changes(o.Spec().Images, c.next.Images)
	idx := make(map[string]int, len(c.r.Releases))
	for i, sr := range c.r.Releases {
		idx[sr.Image] = i
	}
	var b rollout.Builds
	for _, rec := range o.builds.Records() {
		if i, ok := idx[rec.Image]; ok && liveBuild(rec.State) {
			c.r.Releases[i].Builds++
			if !rec.RequestedAt.IsZero() {
				b.Live = append(b.Live, rec.RequestedAt)
			}
		}
		if rec.State == events.BuildPassed && !rec.RequestedAt.IsZero() && rec.FinishedAt.After(rec.RequestedAt) {
			b.Durations = append(b.Durations, rec.FinishedAt.Sub(rec.RequestedAt))
		}
	}
	for hi := range o.pulls.InFlightPairs() {
		if i, ok := idx[hi.Image]; ok {
			c.r.Releases[i].Pulls++
		}
	}
	o.progress.Observe(c.r, b, o.now())
	return c.r
}

// liveBuild reports whether a build in state s is still to finish.
func liveBuild(s events.BuildState) bool {
	return s == events.BuildRequested || s == events.BuildScheduled || s == events.BuildRunning
}
