package orchestrator

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
)

// Option configures an Orchestrator.
type Option func(*options) error

type options struct {
	log      *slog.Logger
	now      func() time.Time
	reg      *prometheus.Registry
	isLeader func() bool
	source   string
	store    builds.Store // tests: build records without NATS
	lease    *lease.Lease
	agents   levers.BuildkiteAgents
}

func defaultOptions() options {
	return options{
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		isLeader: func() bool { return true },
		source:   "vmfleet-orchestrator",
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		o.log = l
		return nil
	}
}

// WithClock sets the clock every time decision uses: staleness, backoff,
// polling and doubt delays, webhook timestamps (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		o.now = now
		return nil
	}
}

// WithRegistry registers the metrics on reg instead of a private registry
// (/metrics serves whichever is used).
func WithRegistry(reg *prometheus.Registry) Option {
	return func(o *options) error {
		if reg == nil {
			return fmt.Errorf("%w: nil registry", ErrInvalidOption)
		}
		o.reg = reg
		return nil
	}
}

// WithLeader makes the orchestrator act (create builds, send commands, write
// records and the spec) only while isLeader returns true; otherwise it keeps
// its state warm and serves the read API. Default: always the leader.
func WithLeader(isLeader func() bool) Option {
	return func(o *options) error {
		if isLeader == nil {
			return fmt.Errorf("%w: nil leader func", ErrInvalidOption)
		}
		o.isLeader = isLeader
		return nil
	}
}

// WithLease makes the orchestrator act only while it holds l
// (isLeader = l.IsLeader), run l for the life of Run, hand it back at the
// end, begin each term with build adoption, and say who leads in /readyz
// and the API. It replaces WithLeader.
func WithLease(l *lease.Lease) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil lease", ErrInvalidOption)
		}
		o.lease, o.isLeader = l, l.IsLeader
		return nil
	}
}

// WithSource sets the CloudEvents source of published events
// (default "vmfleet-orchestrator").
func WithSource(source string) Option {
	return func(o *options) error {
		if source == "" {
			return fmt.Errorf("%w: empty source", ErrInvalidOption)
		}
		o.source = source
		return nil
	}
}

// WithBuildkiteAgents sets the Buildkite agents API of the drift check and the
// pause lever (default: the Buildkite passed to New, when it implements
// levers.BuildkiteAgents).
func WithBuildkiteAgents(a levers.BuildkiteAgents) Option {
	return func(o *options) error {
		if a == nil {
			return fmt.Errorf("%w: nil Buildkite agents API", ErrInvalidOption)
		}
		o.agents = a
		return nil
	}
}

// withStore keeps build records in s instead of KV (tests and benchmarks).
func withStore(s builds.Store) Option {
	return func(o *options) error {
		o.store = s
		return nil
	}
}
