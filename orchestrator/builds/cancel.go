package builds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// OnCancel sets fn, called after Buildkite accepted the cancel of an
// obsolete build (r is the record as vmfleet knows it then). Set it before
// any operation starts.
func (m *Manager) OnCancel(fn func(r *Record)) { m.onCancel = fn }

// CountObsolete is how many cached records Obsolete's rule names for
// wanted, without copying them.
func (m *Manager) CountObsolete(wanted func(image string) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.recs {
		if obsolete(r, wanted) {
			n++
		}
	}
	return n
}

// CancelObsolete asks Buildkite to cancel each build Obsolete names for
// wanted, once, and returns how many cancels it started. It never waits:
// each cancel runs on its own goroutine, at most one operation per key.
//
// The record names the reason (Cancel) before Buildkite is asked, so a build
// that ends canceled counts as vmfleet's cancel, never as a failure, however
// the answer arrives (the reply, a webhook, a poll). Buildkite's reply ends
// the record at once: canceled, also when the build is still "canceling"
// (BuildkiteState), so its slot is free for the builds a spec wants. A 404
// (no such build) ends it too; a 422 (already finished) has the build read
// for its real outcome. Network errors and 5xx are tried again after
// exponential backoff, at most max_attempts times; a 429 holds every call
// until the rate limit resets. A record not yet numbered (a create in
// flight or in doubt) is left to Ensure and Sweep: Sweep abandons a create
// nobody wants (ReasonUnwanted), and a numbered one is cancelled next time.
func (m *Manager) CancelObsolete(ctx context.Context, wanted func(image string) bool) int {
	if m.bk == nil {
		return 0
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Before(m.gate) {
		return 0
	}
	n := 0
	for key, r := range m.recs {
		if m.busy[key] || r.Number == 0 || !obsolete(r, wanted) || !m.cancelDue(r, now) {
			continue
		}
		rec := r.clone()
		m.startLocked(ctx, key, func(ctx context.Context) { m.cancelBuild(ctx, rec) })
		n++
	}
	return n
}

// cancelDue reports whether a cancel call may go for live record r: never
// asked, or asked, failed fewer than max_attempts times and backed off
// until NextCancel. Asked and answered (or in flight) is NextCancel zero,
// until a new leader's AdoptAll has it asked again, once: a repeated cancel
// is harmless (a 422 at worst).
func (m *Manager) cancelDue(r *Record, now time.Time) bool {
	switch {
	case r.Cancel == "":
		return true
	case r.NextCancel.IsZero():
		return false
	}
	return r.CancelTries < m.cfg.MaxAttempts && !now.Before(r.NextCancel)
}

// cancelBuild cancels rec's build on Buildkite and records the answer.
func (m *Manager) cancelBuild(ctx context.Context, rec *Record) {
	cur, err := m.mutate(ctx, rec.Key, func(r *Record) error {
		if !r.State.Live() || r.Number != rec.Number {
			return errNoChange
		}
		r.Cancel, r.NextCancel = ReasonObsolete, time.Time{}
		return nil
	})
	if err != nil {
		return
	}
	info, err := m.bk.CancelBuild(ctx, cur.Number)
	now := m.now()
	var rl *buildkite.RateLimitError
	var ae *buildkite.APIError
	switch {
	case err == nil:
		m.cancelled(ctx, cur, info)
	case errors.As(err, &rl):
		m.setGate(now.Add(rl.Reset))
		m.noteCancel(ctx, cur, func(r *Record) { r.NextCancel = now.Add(rl.Reset) })
	case buildkite.CannotCancel(err) && errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		m.log.Warn("obsolete build not found on Buildkite; its record ends canceled", "build", cur.Key, "number", cur.Number)
		m.endCancelled(ctx, cur, buildkite.BuildInfo{Number: cur.Number},
			fmt.Sprintf("build #%d not found on Buildkite (%s)", cur.Number, err))
	case buildkite.CannotCancel(err):
		// Finished (or already being stopped) before the cancel: read it for
		// its real outcome; the polls take over if this read fails.
		m.log.Info("obsolete build cannot be cancelled; reading its outcome", "build", cur.Key, "number", cur.Number, "err", err)
		m.poll(ctx, cur.Key, cur.Number)
	default:
		tries := cur.CancelTries + 1
		if tries >= m.cfg.MaxAttempts {
			m.log.Error("cannot cancel obsolete build; giving up, it runs to its end", "build", cur.Key, "number", cur.Number, "tries", tries, "err", err)
		} else {
			m.log.Warn("cannot cancel obsolete build; will try again", "build", cur.Key, "number", cur.Number, "tries", tries, "err", err)
		}
		m.noteCancel(ctx, cur, func(r *Record) {
			r.CancelTries, r.Error = tries, err.Error()
			r.NextCancel = now.Add(backoff.Exponential(m.cfg.BackoffBase, m.cfg.BackoffMax, tries))
		})
	}
}

// cancelled records a cancel Buildkite accepted: the build as it answered.
func (m *Manager) cancelled(ctx context.Context, cur *Record, info buildkite.BuildInfo) {
	// Counted before the record changes: whoever sees the record ended
	// canceled sees the cancel counted.
	m.onCancel(cur)
	if !info.State.Live() && info.State != events.BuildCanceled {
		m.observe(ctx, info, false) // it finished first: its outcome stands
		return
	}
	m.log.Info("obsolete build cancelled: no active spec wants its image", "build", cur.Key, "number", cur.Number,
		"image", cur.Image, "buildkite_state", info.RawState)
	m.endCancelled(ctx, cur, info, fmt.Sprintf("build #%d cancelled: no active spec wants %s", cur.Number, cur.Image))
}

// endCancelled ends a live record vmfleet cancelled.
func (m *Manager) endCancelled(ctx context.Context, cur *Record, info buildkite.BuildInfo, why string) {
	_, _ = m.mutate(ctx, cur.Key, func(r *Record) error {
		if !r.State.Live() || r.Number != cur.Number {
			return errNoChange
		}
		r.State, r.Doubt, r.NextCancel = events.BuildCanceled, false, time.Time{}
		if info.RawState != "" {
			r.BuildkiteState = info.RawState
		}
		if info.URL != "" {
			r.URL = info.URL
		}
		r.FinishedAt = info.FinishedAt
		if r.FinishedAt.IsZero() {
			r.FinishedAt = m.now()
		}
		m.setOutcome(r, why)
		return nil
	})
}

// noteCancel changes the cancel bookkeeping of a record still live.
func (m *Manager) noteCancel(ctx context.Context, cur *Record, fn func(r *Record)) {
	_, _ = m.mutate(ctx, cur.Key, func(r *Record) error {
		if !r.State.Live() || r.Number != cur.Number {
			return errNoChange
		}
		fn(r)
		return nil
	})
}

// CancelUnwanted is one round of cancelling obsolete builds (the leader's,
// every tick): the image specs in memory (current, staged) name the
// candidates; when there are some, stored reads the specs in KV again and
// only builds neither wants are cancelled, so a watch not caught up yet (a
// new leader before its first read of the staged spec) never cancels the
// builds of a spec in force.
func (m *Manager) CancelUnwanted(ctx context.Context, mem []*events.ImageSpec, stored func(context.Context) ([]*events.ImageSpec, error)) error {
	inMem := ActiveImages(mem...)
	if m.CountObsolete(func(img string) bool { return inMem[img] }) == 0 {
		return nil
	}
	specs, err := stored(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the spec to confirm obsolete builds; none cancelled: %w", err)
	}
	inKV := ActiveImages(specs...)
	m.CancelObsolete(ctx, func(img string) bool { return inMem[img] || inKV[img] })
	return nil
}
