package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// An orchestrator made without NATS never runs; these let the tests of the
// packages built on the core (orchestrator/web) hand it what Run would
// receive. Production code does not call them.

// errNoSpecKV refuses a spec operation on an orchestrator without the spec's
// KV bucket (offline: Run sets it before the orchestrator counts as
// started), instead of calling a nil bucket.
var errNoSpecKV = fmt.Errorf("%w: the spec is kept in KV bucket %s", ErrNoNATS, events.BucketSpec)

// WithMemoryRecords keeps build records in memory, starting with recs,
// instead of KV bucket vmfleet_builds.
func WithMemoryRecords(recs ...builds.Record) Option {
	s, err := builds.MemStoreWith(recs...)
	if err != nil {
		return func(*options) error { return fmt.Errorf("%w: %w", ErrInvalidOption, err) }
	}
	return withStore(s)
}

// StartOffline does what Run does before it follows the stream: it loads the
// build records and marks the orchestrator started and caught up.
func (o *Orchestrator) StartOffline(ctx context.Context) error {
	if o.builds.Store() == nil {
		return ErrNoNATS
	}
	if err := o.builds.Load(ctx); err != nil {
		return err
	}
	o.started.Store(true)
	o.fleet.MarkCaughtUp()
	return nil
}

// TakeHealth takes one health event as received on subject at seen; it
// reports whether the event was news.
func (o *Orchestrator) TakeHealth(subject string, data []byte, seen time.Time) bool {
	return o.fleet.Ingest(subject, data, seen)
}

// TakePrune takes one prune outcome an agent published on subject.
func (o *Orchestrator) TakePrune(subject string, data []byte) { o.prunes.Record(subject, data) }

// ReconcileOnce makes one full pass now and waits for the builds it started.
func (o *Orchestrator) ReconcileOnce(ctx context.Context) {
	o.pass(ctx, true)
	o.builds.Wait()
}
