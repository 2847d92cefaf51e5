package buildkitefake

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// OnStateChange registers fn to be called with a snapshot after every build
// state change, creation (scheduled) included. Calls happen synchronously on
// the goroutine that caused the change (an API handler, Tick, Step, SetState),
// after the server's lock is released, in the order the changes were made by
// that call. fn may call the Server's helpers.
func (s *Server) OnStateChange(fn func(Build)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

func (s *Server) runHooks(changed []Build) {
	if len(changed) == 0 {
		return
	}
	s.mu.Lock()
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()
	for _, b := range changed {
		for _, h := range hooks {
			h(b.clone())
		}
	}
}

// Tick moves every build whose due time has passed by now: a scheduled build
// runs at ScheduledAt+queued, a running build finishes (per WithOutcome) at
// StartedAt+run, a canceling build becomes canceled. A build may take several
// steps in one Tick; transition timestamps are the due times. Tick also ends
// agent pauses whose timeout has passed. It returns the changes, in order.
func (s *Server) Tick(now time.Time) []Build {
	s.mu.Lock()
	var changed []Build
	for _, b := range s.builds {
		changed = append(changed, s.advanceLocked(b, now)...)
	}
	s.expirePausesLocked(now)
	s.mu.Unlock()
	s.runHooks(changed)
	return changed
}

// Advance is Tick at the server clock's current time.
func (s *Server) Advance() []Build { return s.Tick(s.cfg.now()) }

// Step moves every unfinished build exactly one state on, whatever the time:
// scheduled → running → outcome, canceling → canceled. It returns the changes.
func (s *Server) Step() []Build {
	s.mu.Lock()
	now := s.cfg.now()
	var changed []Build
	for _, b := range s.builds {
		if s.agentDrivenLocked(b) {
			continue // its agents move it
		}
		switch b.State {
		case StateScheduled:
			changed = append(changed, s.moveLocked(b, StateRunning, now))
		case StateRunning:
			changed = append(changed, s.moveLocked(b, s.outcomeLocked(b), now))
		case StateCanceling:
			changed = append(changed, s.moveLocked(b, StateCanceled, now))
		}
	}
	s.mu.Unlock()
	s.runHooks(changed)
	return changed
}

// Run calls Advance every interval until ctx is done or the server closes:
// wall-clock builds for `vmfleet demo`. Tests drive Tick or Step instead.
func (s *Server) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.Advance()
		}
	}
}

// SetState forces a build into st now (e.g. a build canceled by a person in the
// UI), with hooks and webhooks as for any change.
func (s *Server) SetState(org, pipeline string, number int, st State) (Build, error) {
	s.mu.Lock()
	b := s.findLocked(org, pipeline, number)
	if b == nil {
		s.mu.Unlock()
		return Build{}, fmt.Errorf("set state of %s/%s#%d: %w", org, pipeline, number, ErrNoBuild)
	}
	snap := s.moveLocked(b, st, s.cfg.now())
	var changed []Build
	if st == StateCanceling || st.Finished() {
		changed = s.cancelJobsLocked(b)
	}
	s.mu.Unlock()
	s.runHooks(append([]Build{snap}, changed...))
	return snap, nil
}

// Builds returns every build, oldest first.
func (s *Server) Builds() []Build {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Build, 0, len(s.builds))
	for _, b := range s.builds {
		out = append(out, b.clone())
	}
	return out
}

// GetBuild returns one build.
func (s *Server) GetBuild(org, pipeline string, number int) (Build, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.findLocked(org, pipeline, number)
	if b == nil {
		return Build{}, fmt.Errorf("get %s/%s#%d: %w", org, pipeline, number, ErrNoBuild)
	}
	return b.clone(), nil
}

func (s *Server) findLocked(org, pipeline string, number int) *Build {
	for _, b := range s.builds {
		if b.Number == number && b.Pipeline == pipeline && b.Org == org {
			return b
		}
	}
	return nil
}

func (s *Server) advanceLocked(b *Build, now time.Time) []Build {
	if s.agentDrivenLocked(b) {
		return nil // its agents move it
	}
	var out []Build
	for {
		switch b.State {
		case StateScheduled:
			due := b.ScheduledAt.Add(s.cfg.queued)
			if now.Before(due) {
				return out
			}
			out = append(out, s.moveLocked(b, StateRunning, due))
		case StateRunning:
			due := s.dueLocked(b, b.StartedAt.Add(s.cfg.run))
			if now.Before(due) {
				return out
			}
			out = append(out, s.moveLocked(b, s.outcomeLocked(b), due))
		case StateCanceling:
			return append(out, s.moveLocked(b, StateCanceled, now))
		default:
			return out
		}
	}
}

func (s *Server) outcomeLocked(b *Build) State {
	switch st := s.cfg.outcome(b.clone()); st {
	case StatePassed, StateFailed, StateCanceled:
		return st
	default:
		return StateFailed
	}
}

// moveLocked puts b in state to at time at, keeps the live counters, queues
// the webhook, and returns a snapshot. Caller holds s.mu.
func (s *Server) moveLocked(b *Build, to State, at time.Time) Build {
	from := b.State
	b.State = to
	switch {
	case to == StateScheduled:
		b.ScheduledAt, b.StartedAt, b.FinishedAt = at, time.Time{}, time.Time{}
	case to == StateRunning:
		b.StartedAt, b.FinishedAt = at, time.Time{}
	case to.Finished():
		b.FinishedAt = at
	}
	switch {
	case to.Finished() && !from.Finished():
		s.trackFinishedLocked(b)
	case !to.Finished() && from.Finished():
		s.live[b.Key()]++
		s.maxLive[b.Key()] = max(s.maxLive[b.Key()], s.live[b.Key()])
	}
	snap := b.clone()
	s.log.Debug("build state", "build", b.Number, "pipeline", b.Pipeline, "from", from, "to", to)
	s.queueWebhookLocked(snap)
	return snap
}
