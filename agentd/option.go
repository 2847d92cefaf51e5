package agentd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// Option configures an Agent.
type Option func(*Agent) error

// TagApplier drives the Buildkite agent's tags from a check's result (a later
// part; nil means none). Apply is called after every check; the tags it
// returns are reported in HostHealth.BuildkiteTags.
type TagApplier interface {
	Apply(ctx context.Context, h events.HostHealth) ([]string, error)
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(a *Agent) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		a.log = l
		return nil
	}
}

// WithConn makes the agent publish health events and, in Run, serve commands
// and watch the spec over this NATS connection. The caller owns (and closes) it.
func WithConn(nc *nats.Conn) Option {
	return func(a *Agent) error {
		if nc == nil {
			return fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
		}
		a.nc = nc
		return nil
	}
}

// WithClock replaces time.Now for checked_at and forced-state TTLs (tests).
func WithClock(now func() time.Time) Option {
	return func(a *Agent) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		a.now = now
		return nil
	}
}

// WithTagApplier sets the Buildkite tag seam.
func WithTagApplier(t TagApplier) Option {
	return func(a *Agent) error {
		a.tags = t
		return nil
	}
}

// WithMetrics registers the agent's counters on reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(a *Agent) error {
		if reg == nil {
			return fmt.Errorf("%w: nil metrics registerer", ErrInvalidOption)
		}
		m, err := newMetrics(reg)
		if err != nil {
			return err
		}
		a.metrics = m
		return nil
	}
}

// WithBootID sets the boot id (default: random per New), which with the
// sequence number de-duplicates health events.
func WithBootID(id string) Option {
	return func(a *Agent) error {
		if id == "" {
			return fmt.Errorf("%w: empty boot id", ErrInvalidOption)
		}
		a.bootID = id
		return nil
	}
}

// WithSettle sets how long a burst of file changes under $TART_HOME/vms is
// gathered into one check (default 150ms).
func WithSettle(d time.Duration) Option {
	return func(a *Agent) error {
		if d < 0 || d > time.Second {
			return fmt.Errorf("%w: settle %s: want 0 to 1s", ErrInvalidOption, d)
		}
		a.settle = d
		return nil
	}
}

// WithSpecRetry sets how often Run retries reading the spec bucket while it
// does not exist yet (default 10s).
func WithSpecRetry(d time.Duration) Option {
	return func(a *Agent) error {
		if d <= 0 {
			return fmt.Errorf("%w: spec retry %s: must be positive", ErrInvalidOption, d)
		}
		a.specRetry = d
		return nil
	}
}

// WithMemoryState keeps the forced state and the last check in memory instead
// of files under Config.StateDir: nothing is written there, `vmfleet agent
// status` and `force-*` run as other processes cannot see or set them, and a
// restart forgets them. For simulated hosts (package fleetsim), where a
// thousand agents writing their last check every check would only load the
// disk; a real agent keeps its files.
func WithMemoryState() Option {
	return func(a *Agent) error {
		a.store.mem = &memState{}
		return nil
	}
}

// WithoutFileWatch makes Run watch nothing under $TART_HOME/vms or the state
// dir (no fsnotify watcher, so no inotify instance): changes made outside the
// agent are seen at the next timed check. Changes the agent makes itself
// (pull, prune, publish-image) and Trigger still check at once. For
// simulated hosts whose tart is in memory and wakes the agent through
// Trigger; a real agent keeps its watch.
func WithoutFileWatch() Option {
	return func(a *Agent) error {
		a.noWatch = true
		return nil
	}
}

// SpecWatch starts a watch of keys of the spec bucket kv: what
// jetstream.KeyValue.WatchFiltered does, one consumer per agent.
type SpecWatch func(ctx context.Context, kv jetstream.KeyValue, keys []string) (jetstream.KeyWatcher, error)

// WithSpecWatch makes the agent follow the spec through watch instead of a
// watch of its own: many simulated agents in one process share one
// (10,000 consumers, each with its heartbeats, would load the NATS server
// more than the fleet it simulates). The agent still reads both keys every
// few heartbeats and watches again when the watch fell behind.
func WithSpecWatch(watch SpecWatch) Option {
	return func(a *Agent) error {
		if watch == nil {
			return fmt.Errorf("%w: nil spec watch", ErrInvalidOption)
		}
		a.specWatch = func(kv jetstream.KeyValue) func(context.Context, []string, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
			return func(ctx context.Context, keys []string, _ ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
				return watch(ctx, kv, keys)
			}
		}
		return nil
	}
}
