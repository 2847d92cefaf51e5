package fleetsim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

type phase int

const (
	phaseInitial  phase = iota // waiting for the fleet to be ready on the initial spec
	phaseWaitBump              // ready; the bump is due at bumpDue
	phaseStaged                // the bump is staged; waiting for its promotion
	phaseBumped                // the bump is in force; waiting to converge
	phaseFinal                 // converged
)

// scriptState is the script's own bookkeeping (wall-clock offsets since the start).
type scriptState struct {
	phase                        phase
	bumpDue, bumpAt              time.Duration
	windowDue, jobsDue           time.Duration // 0: done or none
	jobsEnded                    bool
	readyAfterBump, pruneWaiting time.Duration // when first seen (0: not yet)
	// staged are the images of the staged spec (RolloutStaged).
	staged []string
}

// script plays the fleet's life: it waits for the first convergence, bumps
// the spec, opens the cleanup window, ends the busy hosts' jobs, and decides
// when the fleet converged.
func (s *Sim) script(ctx context.Context, e *env) error {
	t := time.NewTicker(min(max(s.tm.CheckInterval/4, 5*time.Millisecond), 50*time.Millisecond))
	defer t.Stop()
	sc := &scriptState{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		done, err := s.step(ctx, e, sc)
		if err != nil {
			return err
		}
		if done && s.cfg.StopWhenConverged {
			return errConverged
		}
	}
}

func (s *Sim) step(ctx context.Context, e *env, sc *scriptState) (bool, error) {
	now := time.Since(s.start)
	spec, _ := s.world.current()
	st := s.view.status(spec)
	ready := st.hosts == s.cfg.Hosts && len(st.notReady) == 0
	s.setStatus(st)
	if st.hosts == s.cfg.Hosts {
		s.fleetUp()
	}
	switch sc.phase {
	case phaseInitial:
		if !ready {
			return false, nil
		}
		s.resMu.Lock()
		s.res.FirstReady = Seconds(s.cfg.Fleet(now))
		s.resMu.Unlock()
		s.emit(Event{Kind: KindNote, Text: fmt.Sprintf("fleet ready: all %d hosts have every image of the spec", s.cfg.Hosts)})
		if s.cfg.Bump == BumpNone {
			sc.phase = phaseBumped
			return s.converge(st, sc, now), nil
		}
		sc.phase, sc.bumpDue = phaseWaitBump, now+s.cfg.real(s.cfg.BumpAfter, 0)
	case phaseWaitBump:
		if now < sc.bumpDue {
			return false, nil
		}
		if s.cfg.Rollout == RolloutStaged {
			return false, s.stage(ctx, e, sc, now)
		}
		return false, s.bump(ctx, e, sc, now)
	case phaseStaged:
		if err := s.timers(ctx, e, sc, now); err != nil {
			return false, err
		}
		return false, s.promoted(sc, now)
	case phaseBumped:
		if err := s.timers(ctx, e, sc, now); err != nil {
			return false, err
		}
		if ready && sc.readyAfterBump == 0 && s.cfg.Bump != BumpNone {
			sc.readyAfterBump = now
			s.resMu.Lock()
			s.res.ReadyAfterBump = Seconds(s.cfg.Fleet(now - sc.bumpAt))
			s.resMu.Unlock()
			s.emit(Event{Kind: KindNote, Text: fmt.Sprintf("fleet ready on the new spec, %s after the bump", s.cfg.Fleet(now-sc.bumpAt))})
		}
		return s.converge(st, sc, now), nil
	case phaseFinal:
		return true, nil
	}
	return false, nil
}

// bumped is spec with the bootstrap (or bun) version moved on, and the
// version before and after.
func (s *Sim) bumped(spec events.Spec) (next events.Spec, from, to string) {
	next = spec
	switch s.cfg.Bump {
	case BumpBootstrap:
		from = spec.Images.BootstrapVersion
		to = nextVersion(from)
		next.Images.BootstrapVersion = to
	case BumpBun:
		from = spec.Images.BunVersion
		to = nextVersion(from)
		next.Images.BunVersion = to
	}
	return next, from, to
}

// bumpWritten starts the clocks of a bump written at now: the readiness
// measure, the window and the jobs.
func (s *Sim) bumpWritten(sc *scriptState, now time.Duration) {
	sc.bumpAt = now
	s.chaos.begin()
	if s.cfg.WindowAfter > 0 {
		sc.windowDue = now + s.cfg.real(s.cfg.WindowAfter, time.Nanosecond)
	}
	if s.cfg.Busy > 0 {
		sc.jobsDue = now + s.cfg.real(s.cfg.JobTime, time.Nanosecond)
	}
	s.resMu.Lock()
	s.res.BumpAt = Seconds(s.cfg.Fleet(now))
	s.resMu.Unlock()
}

// bump writes the next spec in force (key current), as `vmfleet spec set`
// does: the bootstrap (or bun) version moved on.
func (s *Sim) bump(ctx context.Context, e *env, sc *scriptState, now time.Duration) error {
	spec, _ := s.world.current()
	next, from, to := s.bumped(spec)
	n := s.ledger.needKeys(next.Images, s.hosts)
	s.view.startTrack(spec, s.cfg.Hosts, s.now())
	rev, err := s.writeSpec(ctx, e, next)
	if err != nil {
		return err
	}
	sc.phase = phaseBumped
	s.bumpWritten(sc, now)
	window := "the cleanup window is open"
	if sc.windowDue > 0 {
		window = fmt.Sprintf("the cleanup window opens in %s", s.cfg.WindowAfter)
	}
	s.emit(Event{Kind: KindSpec, Text: fmt.Sprintf("%s bump: %s → %s (spec revision %d): %d new builds needed; %s",
		s.cfg.Bump, from, to, rev, n, window)})
	return nil
}

// autoPromoteAll is the staged rollout's --auto-promote share: every
// non-stale host.
const autoPromoteAll = 1.0

// stage stages the next spec (key next) through the orchestrator's API,
// as `vmfleet spec stage --bootstrap 3.7 --auto-promote 100%` does; the
// orchestrator promotes it once every non-stale host holds its images.
func (s *Sim) stage(ctx context.Context, e *env, sc *scriptState, now time.Duration) error {
	spec, _ := s.world.current()
	next, from, to := s.bumped(spec)
	n := s.ledger.needKeys(next.Images, s.hosts)
	s.view.startTrack(spec, s.cfg.Hosts, s.now())
	// The world first: from now on a staged image is as protected as a
	// current one.
	s.world.setNext(&next, 0, time.Now())
	share := autoPromoteAll
	u := api.SpecUpdate{By: "vmfleet demo", AutoPromote: &share}
	if s.cfg.Bump == BumpBun {
		u.BunVersion = &to
	} else {
		u.BootstrapVersion = &to
	}
	staged, err := api.NewClient(e.url, e.token).StageSpec(ctx, u)
	if err != nil {
		return fmt.Errorf("stage the spec (POST /api/v1/spec/next): %w", err)
	}
	s.world.setNext(&staged, staged.Revision, time.Now())
	sc.phase, sc.staged = phaseStaged, currentImages(staged)
	s.bumpWritten(sc, now)
	s.emit(Event{Kind: KindSpec, Text: fmt.Sprintf("staged rollout: %s %s → %s staged beside %s (spec revision %d, key next), as `vmfleet spec stage --%s %s --auto-promote 100%%` does: %d new builds needed; every host stays ready on %s while it gets the %s images beside them, and the orchestrator promotes %s once every host holds them",
		s.cfg.Bump, from, to, from, staged.Revision, s.cfg.Bump, to, n, from, to, to)})
	return nil
}

// short is d without its trailing zero units: 10m, 24h, 1m30s.
func short(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// promoted moves the script on once the world has the staged spec in
// force: the orchestrator promoted it.
func (s *Sim) promoted(sc *scriptState, now time.Duration) error {
	cur, _ := s.world.current()
	if !slices.Equal(currentImages(cur), sc.staged) {
		if s.world.staged() == nil {
			return fmt.Errorf("the staged spec went without being promoted (spec revision %d in force)", cur.Revision)
		}
		return nil
	}
	sc.phase = phaseBumped
	after := s.cfg.Fleet(now - sc.bumpAt)
	s.resMu.Lock()
	s.res.PromotedAfterBump = Seconds(after)
	s.resMu.Unlock()
	grace := cur.Cleanup.Grace()
	s.emit(Event{Kind: KindSpec, Text: fmt.Sprintf("promoted by the orchestrator, %s after the stage (auto-promote: every host holds the staged images): spec revision %d is in force and every host is ready on it at once; the old images left every active spec and are kept for the removal grace, %s of fleet time here (%s by default), then pruned",
		after, cur.Revision, short(s.cfg.Fleet(grace)), short(events.DefaultRemovedGrace))})
	return nil
}

// timers opens the cleanup window and ends the jobs when due.
func (s *Sim) timers(ctx context.Context, e *env, sc *scriptState, now time.Duration) error {
	if sc.windowDue > 0 && now >= sc.windowDue {
		sc.windowDue = 0
		spec, _ := s.world.current()
		spec.Cleanup.Windows = openWindow
		rev, err := s.writeSpec(ctx, e, spec)
		if err != nil {
			return err
		}
		s.emit(Event{Kind: KindSpec, Text: fmt.Sprintf("cleanup window opens (spec revision %d; the demo's window is always open from now on: \"* * * * *\" for 1m)", rev)})
	}
	if sc.jobsDue > 0 && now >= sc.jobsDue {
		sc.jobsDue, sc.jobsEnded = 0, true
		s.endJobs()
	}
	return nil
}

// converge decides whether the fleet converged: every host ready on the
// final spec, the jobs over, and nothing left that the cleanup rules would
// prune (see Config.Prune).
func (s *Sim) converge(st fleetStatus, sc *scriptState, now time.Duration) bool {
	ready := st.hosts == s.cfg.Hosts && len(st.notReady) == 0
	if !ready || sc.jobsDue > 0 || sc.windowDue > 0 || (sc.jobsEnded && !s.jobsReported()) || !s.chaos.settled() {
		return false
	}
	checked := len(st.prunable) == 0
	if !checked {
		_, prunes, _ := s.view.counts()
		switch {
		case s.cfg.Prune == PruneRequire, s.cfg.Prune == PruneAuto && prunes > 0:
			return false
		case s.cfg.Prune == PruneAuto:
			if sc.pruneWaiting == 0 {
				sc.pruneWaiting = now
			}
			if now-sc.pruneWaiting < s.pruneGrace() {
				return false
			}
			s.emit(Event{Kind: KindNote, Text: fmt.Sprintf("the orchestrator sent no prune command within %s of the fleet being ready with the window open: %d outdated images stay; pruning not checked",
				s.cfg.Fleet(s.pruneGrace()), len(st.prunable))})
		}
	}
	sc.phase = phaseFinal
	s.endTrack(s.now())
	s.resMu.Lock()
	s.res.Converged, s.res.PruneChecked = true, checked && s.cfg.Bump != BumpNone
	s.res.ConvergedAt = Seconds(s.cfg.Fleet(now))
	if s.cfg.Bump != BumpNone {
		s.res.ConvergedAfterBump = Seconds(s.cfg.Fleet(now - sc.bumpAt))
	}
	s.resMu.Unlock()
	left := "nothing left to prune"
	if !checked {
		left = fmt.Sprintf("%d outdated images left (pruning not checked)", len(st.prunable))
	}
	s.emit(Event{Kind: KindConverged, Text: fmt.Sprintf("converged: %d/%d hosts ready on the final spec, %s (fleet time %s, %s of wall-clock time)",
		st.hosts, s.cfg.Hosts, left, s.cfg.Fleet(now), now.Round(time.Millisecond))})
	return true
}

// jobsReported tells whether, once the jobs ended, every busy host has
// reported its VM stopped: until then the cleanup rules still protect it
// and "nothing to prune" would be premature.
func (s *Sim) jobsReported() bool {
	for _, h := range s.hosts {
		if h.busy == "" {
			continue
		}
		if vm, ok := s.view.vm(h.token, h.busy); ok && vm.Busy() {
			return false
		}
	}
	return true
}

// pruneGrace is how long PruneAuto waits for a first prune command.
func (s *Sim) pruneGrace() time.Duration {
	return max(5*s.tm.Tick, 3*s.tm.CheckInterval, 500*time.Millisecond)
}

// setStatus keeps a line saying what the fleet still lacks.
func (s *Sim) setStatus(st fleetStatus) {
	var parts []string
	if n := s.cfg.Hosts - st.hosts; n > 0 {
		parts = append(parts, fmt.Sprintf("%d hosts never reported", n))
	}
	if len(st.notReady) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d hosts not ready on the final spec (%s)", len(st.notReady), s.cfg.Hosts, first(st.notReady, 5)))
		for _, host := range st.notReadyHosts[:min(3, len(st.notReadyHosts))] {
			parts = append(parts, s.agentDiag(host))
		}
	}
	if len(st.prunable) > 0 {
		parts = append(parts, fmt.Sprintf("%d outdated images not pruned (%s)", len(st.prunable), first(st.prunable, 5)))
	}
	if len(parts) == 0 {
		parts = append(parts, "waiting for the script (bump, window, jobs)")
	}
	s.setStatusText(strings.Join(parts, "; "))
}

func (s *Sim) setStatusText(status string) {
	s.resMu.Lock()
	s.status = status
	s.resMu.Unlock()
}

// agentDiag says what a host's agent itself reports, next to what the
// event stream last said: which spec it checks against, its last check.
func (s *Sim) agentDiag(host string) string {
	h := s.byToken[host]
	if h == nil || h.agent.Load() == nil {
		return host + ": no agent"
	}
	a := h.agent.Load()
	_, rev := a.Spec()
	spec, _ := s.world.current()
	out := fmt.Sprintf("agent %s checks against spec revision %d (the simulation wrote revision %d)", host, rev, spec.Revision)
	if rev == 0 && spec.Revision > 0 {
		out += " — its watch of the spec bucket never started: is the server's cap on consumers per stream (nats-server's own default: 1,000) below the fleet's size? Every agent's watch is one (see --nats-max-consumers)"
	}
	if l, ok := a.Latest(); ok {
		out += fmt.Sprintf(", last check seq %d at %s (ready %v)", l.Seq, l.CheckedAt.Format(time.TimeOnly), l.Ready)
	}
	if seq, ok := s.view.seq(host); ok {
		out += fmt.Sprintf(", last report on the stream seq %d", seq)
	}
	return out
}

func first(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; and %d more", len(xs)-n)
}
