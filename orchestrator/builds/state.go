package builds

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// mutate applies fn to the current record and writes it with a
// compare-and-set, re-reading and re-applying on a conflict. fn returns
// errNoChange to leave the record alone, or another error to abort.
func (m *Manager) mutate(ctx context.Context, key string, fn func(r *Record) error) (*Record, error) {
	for range 5 {
		cur := m.Record(key)
		if cur == nil {
			if cur = m.reload(ctx, key); cur == nil {
				return nil, fmt.Errorf("%w: %s", ErrUnknownKey, key)
			}
		}
		next := cur.clone()
		if err := fn(next); err != nil {
			return cur, err
		}
		next.UpdatedAt = m.now()
		kctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
		rev, err := m.store.Update(kctx, next, cur.Revision)
		cancel()
		if errors.Is(err, errConflict) {
			m.reload(ctx, key)
			continue
		}
		if err != nil {
			m.log.Warn("cannot write build record", "build", key, "err", err)
			return cur, err
		}
		next.Revision = rev
		m.mu.Lock()
		m.setLocked(next)
		m.mu.Unlock()
		m.onChange(cur, next)
		return next, nil
	}
	return nil, fmt.Errorf("update build record %s: %w", key, errConflict)
}

// note changes bookkeeping fields of a record still requested.
func (m *Manager) note(ctx context.Context, key string, fn func(r *Record)) {
	_, _ = m.mutate(ctx, key, func(r *Record) error {
		if r.State != events.BuildRequested || r.Number != 0 {
			return errNoChange
		}
		fn(r)
		return nil
	})
}

// reload re-reads a record from the store into the cache.
func (m *Manager) reload(ctx context.Context, key string) *Record {
	kctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	r, err := m.store.Get(kctx, key)
	if err != nil || r == nil {
		return nil
	}
	m.mu.Lock()
	m.setLocked(r)
	m.mu.Unlock()
	return r.clone()
}

// observe applies what Buildkite says of a build (create answer, webhook,
// poll, adoption). A finished record never goes back to live, and a build
// other than the record's is ignored unless adopt is set for a record that
// has none yet.
func (m *Manager) observe(ctx context.Context, info buildkite.BuildInfo, adopt bool) {
	if info.Key == "" || info.Number == 0 {
		return
	}
	_, _ = m.mutate(ctx, info.Key, func(r *Record) error {
		if !r.State.Live() {
			return settleCanceling(r, info)
		}
		if r.Number == 0 {
			if !adopt && info.Attempt != r.Attempt {
				return errNoChange
			}
			r.Number = info.Number
		}
		if r.Number != info.Number {
			return errNoChange
		}
		if r.State == info.State && r.BuildkiteState == info.RawState && r.URL == info.URL && !r.Doubt {
			return errNoChange
		}
		r.State, r.BuildkiteState, r.Doubt = info.State, info.RawState, false
		if info.URL != "" {
			r.URL = info.URL
		}
		if r.State.Live() {
			r.Error = ""
			return nil
		}
		r.FinishedAt = info.FinishedAt
		if r.FinishedAt.IsZero() {
			r.FinishedAt = m.now()
		}
		m.setOutcome(r, fmt.Sprintf("build #%d %s", r.Number, info.RawState))
		return nil
	})
}

// ApplyWebhook applies what a Buildkite webhook says of a build (event
// build.*, key and number set): like a poll, it never adopts a build the
// record does not name, and a finished record never goes back to live.
func (m *Manager) ApplyWebhook(ctx context.Context, info buildkite.BuildInfo) {
	m.observe(ctx, info, false)
}

// setOutcome fills the error and next attempt of a finished record. An
// attempt vmfleet cancelled itself (Cancel set) ending canceled counts in
// Cancels, not as a failure: no backoff, and it never blocks the key.
func (m *Manager) setOutcome(r *Record, why string) {
	switch {
	case r.State == events.BuildPassed:
		r.Error, r.NextAttempt = "", r.FinishedAt
		return
	case r.State == events.BuildCanceled && r.Cancel != "":
		r.Cancels++
		r.Error, r.NextAttempt = why, r.FinishedAt
		return
	}
	r.Error = why
	r.NextAttempt = r.FinishedAt.Add(backoff.Exponential(m.cfg.BackoffBase, m.cfg.BackoffMax, r.Failures()))
	if r.Failures() >= m.cfg.MaxAttempts {
		r.NextAttempt = r.FinishedAt
	}
}

// finish ends an attempt still requested (refused, or nobody wants it:
// cancel is then why vmfleet abandons it, see Record.Cancel).
func (m *Manager) finish(ctx context.Context, key string, attempt int, st events.BuildState, cancel, why string) {
	_, _ = m.mutate(ctx, key, func(r *Record) error {
		if r.State != events.BuildRequested || r.Attempt != attempt {
			return errNoChange
		}
		r.State, r.FinishedAt, r.Doubt = st, m.now(), false
		if cancel != "" {
			r.Cancel = cancel
		}
		m.setOutcome(r, why)
		return nil
	})
}

// block stops retrying a key that failed max_attempts times.
func (m *Manager) block(ctx context.Context, key string) {
	r, err := m.mutate(ctx, key, func(r *Record) error {
		if r.State != events.BuildFailed && r.State != events.BuildCanceled || r.Failures() < m.cfg.MaxAttempts {
			return errNoChange
		}
		r.State = events.BuildBlocked
		return nil
	})
	if err == nil {
		m.log.Error("build key blocked: fix the pipeline, then run `vmfleet build retry KEY`",
			"build", key, "attempts", r.Attempt, "err", r.Error)
	}
}

// passedButMissing counts a passed host build whose host still lacks the
// image, long after, as a failed attempt.
func (m *Manager) passedButMissing(ctx context.Context, key string) {
	_, _ = m.mutate(ctx, key, func(r *Record) error {
		if r.State != events.BuildPassed || r.Host == "" {
			return errNoChange
		}
		r.State, r.FinishedAt = events.BuildFailed, m.now()
		m.setOutcome(r, fmt.Sprintf("build #%d passed but %s still lacks %s", r.Number, r.Host, r.Image))
		return nil
	})
}

// Retry is an operator's `vmfleet build retry KEY`: a finished or blocked key
// starts again from attempt 1 at once.
func (m *Manager) Retry(ctx context.Context, key string) (*Record, error) {
	return m.mutate(ctx, key, func(r *Record) error {
		if r.State.Live() {
			return fmt.Errorf("%w: %s is %s (build #%d)", ErrBuildLive, key, r.State, r.Number)
		}
		r.State, r.Attempt, r.Try, r.Cancels = events.BuildFailed, 0, 0, 0
		r.NextAttempt, r.CheckAfter = m.now(), m.now()
		r.Error = "retry requested by an operator"
		return nil
	})
}

// settleCanceling records Buildkite's last word on a build vmfleet
// cancelled while it ran: the record ended canceled when Buildkite answered
// "canceling" (its slot free at once), and the build's own end (canceled,
// or another outcome if it finished first) is noted, nothing else changes.
func settleCanceling(r *Record, info buildkite.BuildInfo) error {
	if r.Cancel == "" || r.Number != info.Number || r.BuildkiteState != rawCanceling ||
		info.State.Live() || info.RawState == r.BuildkiteState {
		return errNoChange
	}
	r.BuildkiteState = info.RawState
	if !info.FinishedAt.IsZero() {
		r.FinishedAt = info.FinishedAt
	}
	return nil
}
