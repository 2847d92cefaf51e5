package bkagent

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of the options.
const (
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultStableAfter    = time.Minute
	DefaultRestartTimeout = 30 * time.Second
	// DefaultWaitDelay bounds how long, after a process exited, its output is
	// still read (a grandchild may hold the pipe open).
	DefaultWaitDelay = 5 * time.Second
)

// Option configures a Supervisor or a Commander; each ignores the options
// that are not its own (noted on each).
type Option func(*settings) error

type settings struct {
	log            *slog.Logger
	clock          Clock
	env            []string
	backoffMin     time.Duration
	backoffMax     time.Duration
	stableAfter    time.Duration
	restartTimeout time.Duration
	fileFormat     FileFormat
	onStart        func(tags []string)
}

func defaults() settings {
	return settings{
		log: slog.New(slog.DiscardHandler), clock: realClock{},
		backoffMin: DefaultBackoffMin, backoffMax: DefaultBackoffMax, stableAfter: DefaultStableAfter,
		restartTimeout: DefaultRestartTimeout, fileFormat: FormatTags,
	}
}

func apply(opts []Option) (settings, error) {
	s := defaults()
	for _, o := range opts {
		if err := o(&s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// WithLogger sets the logger (default: discard). The supervised
// buildkite-agent's output lines are logged here too.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		s.log = l
		return nil
	}
}

// WithClock replaces the real clock for crash backoff (Supervisor; tests).
func WithClock(c Clock) Option {
	return func(s *settings) error {
		if c == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		s.clock = c
		return nil
	}
}

// WithEnv adds KEY=VALUE entries to the environment of buildkite-agent
// (Supervisor) or of the restart command (Commander), after agentd's own.
// BUILDKITE_AGENT_TAGS may not be set here: the tags are computed.
func WithEnv(env ...string) Option {
	return func(s *settings) error {
		for _, e := range env {
			k, _, ok := strings.Cut(e, "=")
			if !ok || k == "" {
				return fmt.Errorf("%w: buildkite.env entry %q: want KEY=VALUE", ErrInvalidOption, e)
			}
			if k == EnvTags {
				return fmt.Errorf("%w: buildkite.env sets %s: put those tags in buildkite.tags", ErrInvalidOption, EnvTags)
			}
		}
		s.env = append(s.env, env...)
		return nil
	}
}

// WithBackoff sets the delay before restarting a buildkite-agent that exited
// unasked: first min, doubling up to max (Supervisor; default 1s to 1m).
func WithBackoff(min, max time.Duration) Option {
	return func(s *settings) error {
		if min <= 0 || max < min {
			return fmt.Errorf("%w: backoff %s..%s: want 0 < min <= max", ErrInvalidOption, min, max)
		}
		s.backoffMin, s.backoffMax = min, max
		return nil
	}
}

// WithStableAfter sets how long a buildkite-agent must have run for its next
// crash to start the backoff from the beginning again (Supervisor; default 1m).
func WithStableAfter(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("%w: stable after %s: must be positive", ErrInvalidOption, d)
		}
		s.stableAfter = d
		return nil
	}
}

// WithRestartTimeout bounds the restart command (Commander; default 30s).
func WithRestartTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("%w: buildkite.restart_timeout %s: must be positive", ErrInvalidOption, d)
		}
		s.restartTimeout = d
		return nil
	}
}

// WithFileFormat sets the tags file's format (Commander; default FormatTags).
func WithFileFormat(f FileFormat) Option {
	return func(s *settings) error {
		switch f {
		case FormatTags, FormatEnv:
			s.fileFormat = f
			return nil
		}
		return fmt.Errorf("%w: buildkite.tags_file_format %q: want %q or %q", ErrInvalidOption, f, FormatTags, FormatEnv)
	}
}

// WithOnStart calls f, from Run's goroutine, each time buildkite-agent was
// started with tags (Supervisor). f must not block; wire it to something like
// a check trigger so health reports the new tags at once, not at the next check.
func WithOnStart(f func(tags []string)) Option {
	return func(s *settings) error {
		s.onStart = f
		return nil
	}
}
