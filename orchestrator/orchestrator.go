package orchestrator

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/rungroup"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// Orchestrator keeps the fleet state, reconciles it towards the spec, and
// answers the queries of the read API (orchestrator/web serves it). Make it
// with New and run it with Run.
type Orchestrator struct {
	cfg     Config
	opts    options
	log     *slog.Logger
	now     func() time.Time
	nc      *nats.Conn
	subj    events.Subjects
	reg     *prometheus.Registry
	metrics *metrics
	fleet   *hosts.Fleet // the hosts' state (package hosts)
	builds  *builds.Manager
	pulls   *pulls.Manager
	prunes  *prunes.Manager // pruning (prune.go)
	// specChanges is the spec history as entries (spec_history.go).
	specChanges rollout.ChangeLog
	verbs       []hostVerb      // every host command verb (loops.go)
	agents      *levers.Manager // the drift check and the pause lever; nil: neither runs
	// pubDrift publishes a drift event of the levers.
	pubDrift func(events.TagDrift)

	// specKV is bucket vmfleet_spec, set by Run before started.
	specKV jetstream.KeyValue

	spec      atomic.Pointer[events.Spec]
	next      rollout.Staged  // the staged spec (spec_stage.go), nil: no rollout
	progress  rollout.Tracker // the rollout's counts over time, for its ETA
	readiness atomic.Pointer[events.FleetReadiness]
	running   atomic.Bool
	fullWake  chan struct{} // capacity 1

	// Owned by the loop goroutine.
	scratch     wants
	lastSummary time.Time
	// nonStaleHosts is the last summary's count, the prune budget's base.
	nonStaleHosts int
	// expiries follows the hosts' drains with a TTL; expired holds the
	// ends the pass saw, announced by the leader (drain.go).
	expiries drains.Expiries
	expired  []events.HostDrain

	// started is set once Run has loaded the build records: until then the
	// webhook and retry endpoints answer 503.
	started atomic.Bool
	term    term // leadership: the lease, the current term (term.go)

	// observers are called on changes the read API shows (OnChange).
	observers observers
}

// New makes an orchestrator. nc is its NATS connection (nil only for tests
// that never call Run); bk is Buildkite (nil disables builds: the
// orchestrator still tracks the fleet and sends pulls).
func New(nc *nats.Conn, bk builds.Buildkite, cfg Config, opts ...Option) (*Orchestrator, error) {
	o := &Orchestrator{opts: defaultOptions(), nc: nc, fullWake: make(chan struct{}, 1)}
	for _, opt := range opts {
		if err := opt(&o.opts); err != nil {
			return nil, err
		}
	}
	var err error
	if o.cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	o.log, o.now = o.opts.log, o.opts.now
	o.subj, _ = events.NewSubjects(o.cfg.Prefix)
	o.reg = o.opts.reg
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if o.fleet, err = hosts.New(o.subj, o.cfg.Hosts, hosts.Deps{Log: o.log, Now: o.now, Reg: o.reg, Conn: nc,
		Publish: func(subject, typ, subjAttr string, data any) {
			o.publish(context.Background(), subject, typ, subjAttr, data)
		},
		Wake: o.Trigger}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if o.metrics, err = newMetrics(o.reg); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	if err := o.initTerm(); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	spec := o.cfg.Spec
	o.spec.Store(&spec)
	o.builds = builds.New(o.cfg.Builds, o.log, o.now, bk, o.opts.store)
	o.builds.OnChange(o.buildChanged)
	if err := o.builds.RegisterGauges(o.reg); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	if o.pulls, err = pulls.New(o.cfg.Pulls, pulls.Deps{Now: o.now, Log: o.log, Reg: o.reg, Client: o.commands(), Current: o.currentSeq, Wake: o.Trigger}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if err := o.initPrunes(); err != nil {
		return nil, err
	}
	o.verbs = o.hostVerbs()
	if err := o.initAgents(bk); err != nil {
		return nil, err
	}
	return o, nil
}

// Run loads the build records, publishes the spec (when it differs from the
// stored one), rebuilds the fleet state and reconciles until ctx ends. The
// VMFLEET stream and the KV buckets must exist (internal/bus creates them).
func (o *Orchestrator) Run(ctx context.Context) error {
	if o.nc == nil {
		return ErrNoNATS
	}
	if !o.running.CompareAndSwap(false, true) {
		return fmt.Errorf("orchestrator already running")
	}
	js, err := jetstream.New(o.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	specKV, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		return fmt.Errorf("KV bucket %s: %w", events.BucketSpec, err)
	}
	if o.builds.Store() == nil {
		kv, err := js.KeyValue(ctx, events.BucketBuilds)
		if err != nil {
			return fmt.Errorf("KV bucket %s: %w", events.BucketBuilds, err)
		}
		o.builds.SetStore(builds.NewKVStore(kv))
	}
	// Work in flight outlives ctx for a bounded drain; the lease is handed
	// back after it.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	o.term.mu.Lock()
	o.term.work = work
	o.term.mu.Unlock()
	stopLease := o.startLease(ctx)
	defer stopLease()
	o.specKV = specKV
	if err := o.syncSpec(ctx, specKV); err != nil {
		return err
	}
	if err := o.builds.Load(ctx); err != nil {
		return err
	}
	o.started.Store(true)
	g, gctx := rungroup.New(ctx)
	startLoops(gctx, g, o.loops(js, specKV))
	err = g.Wait()
	o.fleet.Wait()
	o.drain(cancelWork, o.waiters()...)
	return err
}

// Spec is the desired state in force.
func (o *Orchestrator) Spec() events.Spec { return *o.spec.Load() }

// Ready reports whether the fleet state has caught up with the stream and
// NATS is connected.
func (o *Orchestrator) Ready() bool {
	return o.fleet.CaughtUp() && o.nc != nil && o.nc.IsConnected()
}

// Retry is an operator's retry of a build key: a blocked or failed key starts
// again from attempt 1.
func (o *Orchestrator) Retry(ctx context.Context, key string) (builds.Record, error) {
	if err := o.writable(); err != nil {
		return builds.Record{}, err
	}
	r, err := o.builds.Retry(ctx, key)
	if err != nil {
		return builds.Record{}, err
	}
	o.log.Info("build retry requested", "build", key)
	o.Trigger()
	return *r, nil
}

// buildChanged publishes a record's state change and wakes a full pass when a
// build finished (pulls may now go out, or a retry is due).
func (o *Orchestrator) buildChanged(prev, next *builds.Record) {
	if next.Attempt == 0 {
		o.Trigger()
		return
	}
	if prev != nil && prev.State == next.State && prev.Attempt == next.Attempt {
		return
	}
	o.metrics.buildEvents.WithLabelValues(string(next.State)).Inc()
	o.publish(context.Background(), o.subj.Build(next.Release, next.State), events.TypeBuild, next.Key, next.Event(o.now().UTC()))
	if !next.State.Live() {
		o.Trigger()
	}
}

// publish sends one event (core NATS; the stream keeps build events).
func (o *Orchestrator) publish(_ context.Context, subject, typ, subjAttr string, data any) {
	if o.nc == nil {
		return
	}
	b, err := events.Encode(typ, o.opts.source, subjAttr, "", o.now(), data)
	if err == nil {
		err = o.nc.Publish(subject, b)
	}
	if err != nil {
		o.log.Warn("cannot publish event", "subject", subject, "err", err)
	}
}

func (o *Orchestrator) currentSeq(host string) (string, uint64) {
	if hs := o.fleet.Get(host); hs != nil {
		return hs.Health.BootID, hs.Health.Seq
	}
	return "", 0
}

// commands is the client every host command goes out with.
func (o *Orchestrator) commands() hostcmd.Client {
	return hostcmd.Client{Conn: o.nc, Subjects: o.subj, Source: o.opts.source, Now: o.now}
}
