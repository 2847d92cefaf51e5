package bkagent

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Supervisor is lever supervise: it runs buildkite-agent as its child with
// the computed tags and restarts it, gracefully, when they change.
//
// Run owns the child; Apply (agentd's TagApplier seam), SetTags and Cancel
// may be called from any goroutine.
type Supervisor struct {
	argv []string
	opts TagOptions
	set  settings

	mu       sync.Mutex
	desired  []string // nil until the first Apply or SetTags
	running  []string // tags of the child started last (nil before)
	canceled bool     // Cancel was called: the stop is ungraceful
	starts   int

	changed  chan struct{} // capacity 1: a burst of tag changes is one wake-up
	cancelCh chan struct{} // capacity 1: Cancel's nudge
}

// NewSupervisor returns a supervisor for argv, the buildkite-agent start
// command (e.g. ["buildkite-agent", "start", "--name", "%hostname-%spawn"]).
// argv must not set --tags: those belong in opts.Operator, since vmfleet
// passes the merged tags as --tags and BUILDKITE_AGENT_TAGS (which override
// the tags of buildkite-agent.cfg, too). argv[0] is looked up in PATH now.
func NewSupervisor(argv []string, opts TagOptions, options ...Option) (*Supervisor, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("%w: buildkite.agent_command is empty: want e.g. [buildkite-agent, start]", ErrInvalidOption)
	}
	for _, a := range argv[1:] {
		if a == "--tags" || strings.HasPrefix(a, "--tags=") {
			return nil, fmt.Errorf("%w: buildkite.agent_command sets --tags: move those tags to buildkite.tags", ErrInvalidOption)
		}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	set, err := apply(options)
	if err != nil {
		return nil, err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%w (%q: %w)", ErrAgentNotFound, argv[0], err)
	}
	argv = slices.Clone(argv)
	argv[0] = path
	return &Supervisor{
		argv: argv, opts: opts, set: set,
		changed: make(chan struct{}, 1), cancelCh: make(chan struct{}, 1),
	}, nil
}

// Apply implements agentd's TagApplier: it computes the tags for h and, if
// they differ from the last ones asked for, asks Run to restart
// buildkite-agent with them. It returns the tags buildkite-agent runs with
// (the old ones while it finishes its job before the restart), or, before the
// first start, the tags it is about to start with: what Buildkite sees.
func (s *Supervisor) Apply(_ context.Context, h events.HostHealth) ([]string, error) {
	s.SetTags(Tags(h, s.opts))
	return s.Applied(), nil
}

// SetTags asks for buildkite-agent to run with tags; a no-op when they equal
// the last tags asked for. Several calls while it drains coalesce into one
// restart with the latest tags.
func (s *Supervisor) SetTags(tags []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.desired != nil && Equal(s.desired, tags) {
		return
	}
	s.desired = slices.Clone(tags)
	if s.desired == nil {
		s.desired = []string{}
	}
	wake(s.changed)
}

// Applied returns the tags of the buildkite-agent started last, or the tags
// asked for when none was started yet.
func (s *Supervisor) Applied() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return slices.Clone(s.running)
	}
	return slices.Clone(s.desired)
}

// Starts returns how many times buildkite-agent was started.
func (s *Supervisor) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// Cancel makes the stop ungraceful, as a second interrupt does to
// buildkite-agent itself: if the child has had its SIGTERM (Run's context
// ended, or it drains for a restart), it is told now to cancel its running
// job and exit (SIGQUIT, see cancelJob); otherwise it is told so right after
// the SIGTERM, when Run's context ends. Wire it to the second SIGINT/SIGTERM
// agentd receives.
func (s *Supervisor) Cancel() {
	s.mu.Lock()
	s.canceled = true
	s.mu.Unlock()
	wake(s.cancelCh)
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *Supervisor) wantTags() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.desired)
}

func (s *Supervisor) isCanceled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canceled
}

// outcome is how one child's run ended.
type outcome int

const (
	exitedUnasked outcome = iota // crashed, or quit by itself: restart after backoff
	drained                      // stopped for new tags: restart now
	stopped                      // Run's context ended: return
)

// Run starts buildkite-agent once the first tags are known (from Apply or
// SetTags) and keeps it running with the latest tags until ctx ends; then it
// stops it gracefully (one SIGTERM, and waits for as long as its job takes;
// Cancel sends the second) and returns nil. Call it once.
func (s *Supervisor) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.changed:
	}
	bo := newBackoff(s.set.backoffMin, s.set.backoffMax)
	for {
		tags := s.wantTags()
		c, err := startChild(s.argv, s.set.env, tags, s.set.log, s.set.clock.Now())
		if err != nil {
			d := bo.delay()
			s.set.log.Error("cannot start buildkite-agent; retrying", "err", err, "retry_in", d)
			if !s.sleep(ctx, d) {
				return nil
			}
			continue
		}
		s.mu.Lock()
		s.running, s.starts = slices.Clone(tags), s.starts+1
		s.mu.Unlock()
		c.log.Info("buildkite-agent started", "tags", Format(tags))
		if s.set.onStart != nil {
			s.set.onStart(slices.Clone(tags))
		}
		switch s.watch(ctx, c) {
		case stopped:
			return nil
		case drained:
			bo.reset()
		case exitedUnasked:
			if s.set.clock.Now().Sub(c.started) >= s.set.stableAfter {
				bo.reset()
			}
			d := bo.delay()
			s.set.log.Warn("buildkite-agent exited unasked; restarting", "retry_in", d)
			if !s.sleep(ctx, d) {
				return nil
			}
		}
	}
}

// watch waits for the running child to exit, for new tags (then drains it)
// or for ctx to end (then stops it).
func (s *Supervisor) watch(ctx context.Context, c *child) outcome {
	for {
		select {
		case err := <-c.done:
			logExit(c, err, false)
			return exitedUnasked
		case <-s.cancelCh:
			// Not stopping: Cancel only marks the stop to come as ungraceful.
		case <-s.changed:
			if want := s.wantTags(); !Equal(want, c.tags) {
				c.log.Info("tags changed: restarting buildkite-agent after its running job", "tags", Format(want))
				c.term()
				return s.drain(ctx, c, false)
			}
		case <-ctx.Done():
			c.term()
			return s.drain(ctx, c, true)
		}
	}
}

// drain waits, with no deadline of its own, for a child that had its first
// SIGTERM to exit. Cancel makes it cancel its job (cancelJob).
func (s *Supervisor) drain(ctx context.Context, c *child, stopping bool) outcome {
	done := ctx.Done()
	if stopping {
		done = nil
		if s.isCanceled() {
			c.cancelJob()
		}
	}
	for {
		select {
		case err := <-c.done:
			logExit(c, err, true)
			if stopping {
				return stopped
			}
			return drained
		case <-s.cancelCh:
			c.cancelJob()
		case <-done:
			stopping, done = true, nil
			c.log.Info("stopping: waiting for buildkite-agent to finish its running job")
			if s.isCanceled() {
				c.cancelJob()
			}
		}
	}
}

func logExit(c *child, err error, asked bool) {
	attrs := []any{"ran_for", time.Since(c.started).Round(time.Second)}
	if err != nil {
		attrs = append(attrs, "exit", err)
	}
	if asked {
		c.log.Info("buildkite-agent exited", attrs...)
		return
	}
	c.log.Warn("buildkite-agent exited unasked", attrs...)
}

// sleep waits d on the clock; false if ctx ended first.
func (s *Supervisor) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-s.set.clock.After(d):
		return true
	}
}
