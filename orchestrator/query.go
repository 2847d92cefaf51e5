package orchestrator

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// What the packages built on the core (orchestrator/web: the HTTP API, the
// dashboard, the webhook receiver) read of it and ask of it.

// Config is the configuration in force, defaults applied.
func (o *Orchestrator) Config() Config { return o.cfg }

// Now is the clock every time decision uses (WithClock).
func (o *Orchestrator) Now() time.Time { return o.now() }

// Logger is the orchestrator's logger (WithLogger).
func (o *Orchestrator) Logger() *slog.Logger { return o.log }

// Registry holds the orchestrator's metrics (WithRegistry, else its own);
// GET /metrics serves it.
func (o *Orchestrator) Registry() *prometheus.Registry { return o.reg }

// Readiness is the fleet's readiness as of the last full pass, nil before it.
func (o *Orchestrator) Readiness() *events.FleetReadiness { return o.readiness.Load() }

// CaughtUp reports whether the fleet state has caught up with the stream.
func (o *Orchestrator) CaughtUp() bool { return o.fleet.CaughtUp() }

// IsLeader reports whether this orchestrator acts now.
func (o *Orchestrator) IsLeader() bool { return o.opts.isLeader() }

// Builds returns every build record, sorted by key.
func (o *Orchestrator) Builds() []builds.Record { return o.builds.Records() }

// PullsInFlight is the set of (host, image) whose pull command awaits the
// agent's reply.
func (o *Orchestrator) PullsInFlight() map[pulls.HostImage]bool { return o.pulls.InFlightPairs() }

// ObserveWebhook takes a build's state from a Buildkite webhook (already
// authenticated): the matching record is updated at once (polling catches
// any webhook that never comes). It reports false, changing nothing, for an
// event other than build.*, a build without vmfleet's key or number, or
// while this orchestrator is not the leader or still starting.
func (o *Orchestrator) ObserveWebhook(ctx context.Context, hook buildkite.Webhook) bool {
	info := hook.Build
	if !strings.HasPrefix(hook.Event, "build.") || info.Key == "" || info.Number == 0 || !o.opts.isLeader() || !o.started.Load() {
		return false
	}
	o.log.Debug("webhook", "event", hook.Event, "build", info.Key, "number", info.Number, "state", info.RawState)
	o.builds.ApplyWebhook(ctx, info)
	return true
}

// OnChange registers fn, called (on the goroutine that made the change) when
// something the read API shows changed between passes: an agent's prune
// outcome. fn must not block. Register before Run.
func (o *Orchestrator) OnChange(fn func()) { o.observers.add(fn) }

// observers are the functions OnChange registered.
type observers struct {
	mu  sync.Mutex
	fns []func()
}

func (s *observers) add(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns, fn)
}

func (s *observers) changed() {
	s.mu.Lock()
	fns := s.fns
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
