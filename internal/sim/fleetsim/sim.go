package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/rungroup"
)

// Sim is one simulated fleet. Make it with New and run it once with Run.
type Sim struct {
	cfg  Config
	tm   Timings
	opts options
	subj events.Subjects

	hosts   []*simHost
	byToken map[string]*simHost
	reg     registry
	pubs    publishes
	world   world
	ledger  ledger
	view    *view
	// chaos injects faults (nil without Config.Chaos).
	chaos *chaosRun
	// perConn agents share each of the shared connections (startAgents;
	// none when 1).
	perConn int
	shared  []*agentConn
	specHub *specHub // the agents' shared spec watch (with shared connections)
	// kv is the spec bucket, once the world is up (for resync).
	kv atomic.Pointer[jetstream.KeyValue]
	// nc and inbox are the simulation's connection and the messages its
	// subscription delivers to consume (set by run before anything reads
	// them).
	nc    *nats.Conn
	inbox chan *nats.Msg

	running atomic.Bool
	start   time.Time
	cpu0    float64 // the process's CPU seconds at start
	ctx     atomic.Pointer[context.Context]
	emitMu  sync.Mutex

	resMu sync.Mutex
	res   Result
	// status says what the fleet still lacked at the last look.
	status string

	// timerMu guards the timeout: the come-up limit until the fleet is up,
	// then Timeout.
	timerMu   sync.Mutex
	timer     *time.Timer
	up        bool
	cancelRun context.CancelCauseFunc
}

// New prepares a simulation: it checks cfg and builds every host's initial
// inventory. Nothing runs until Run.
func New(cfg Config, opts ...Option) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, tm: cfg.Timings(), opts: defaultOptions(), view: newView()}
	for _, o := range opts {
		if err := o(&s.opts); err != nil {
			return nil, err
		}
	}
	s.subj, _ = events.NewSubjects("")
	spec := cfg.initialSpec(time.Now())
	s.world.set(spec, time.Now())
	s.makeHosts()
	s.chaos = newChaos(s)
	s.ledger.needKeys(spec.Images, s.hosts)
	s.res = Result{Hosts: cfg.Hosts, Releases: cfg.Releases, Registry: cfg.Registry, Scale: cfg.Scale, Bump: cfg.Bump,
		Rollout: cfg.Rollout, Target: Seconds(cfg.target())}
	return s, nil
}

// Config is the simulation's configuration.
func (s *Sim) Config() Config { return s.cfg }

// Run runs the simulation until ctx ends, the timeout passes (see
// Config.Timeout) or (with StopWhenConverged) the fleet converged. It
// returns nil after a convergence without violations, an error wrapping
// ErrNotConverged (naming what was missing) when told to stop once
// converged and it did not, or one wrapping ErrViolations. Result is complete once Run returned.
func (s *Sim) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: a simulation runs once", ErrInvalidConfig)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.armTimeout(cancel)
	defer s.stopTimeout()
	s.start, s.cpu0 = time.Now(), cpuSeconds()
	dir, err := os.MkdirTemp("", "vmfleet-sim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e, err := s.setup(ctx, dir)
	if err != nil {
		var te *timeoutError
		if errors.As(context.Cause(ctx), &te) {
			return fmt.Errorf("%w: %s (setting up: %v)", ErrNotConverged, te, err)
		}
		return err
	}
	defer e.close()
	runErr := s.run(ctx, e, dir)
	s.finish(e)
	return s.verdict(ctx, runErr)
}

// run starts every part in one group and waits for them all.
func (s *Sim) run(ctx context.Context, e *env, dir string) error {
	g, gctx := rungroup.New(ctx)
	s.ctx.Store(&gctx)
	s.kv.Store(&e.kv)
	s.nc, s.inbox = e.nc, e.msgs
	g.Go(func() error { return s.follow(gctx, e.kv) })
	g.Go(func() error { return s.consume(gctx, e.msgs) })
	g.Go(func() error { return e.serve(gctx) })
	ready := e.o.Ready
	if s.chaos != nil {
		// Two orchestrator replicas sharing a lease, which the chaos kills.
		ready = s.chaos.launch(gctx, g, e, dir)
	} else {
		g.Go(func() error { return e.wo.Web.Run(gctx) }) // the dashboard's live updates
		g.Go(func() error {
			err := e.o.Run(gctx)
			switch {
			case err != nil:
				return fmt.Errorf("orchestrator: %w", err)
			case gctx.Err() == nil:
				return errors.New("the orchestrator stopped on its own")
			}
			return nil
		})
	}
	s.tell(e)
	s.setStatusText("the orchestrator never got ready")
	if err := waitFor(gctx, ready); err == nil {
		g.Go(func() error { e.bk.Run(gctx, s.tm.BuildkiteStep); return nil })
		if err := s.startAgents(gctx, g, e.ns.ClientURL(), dir); err != nil {
			g.Go(func() error { return err })
		}
		g.Go(func() error { return s.script(gctx, e) })
	}
	return g.Wait()
}

// tell starts the story: the fleet, the timings and where the API is.
func (s *Sim) tell(e *env) {
	c := s.cfg
	mode := "each host builds its own images (no registry)"
	if c.Registry {
		mode = "images are built once, pushed to a registry and pulled by every host"
	}
	s.emit(Event{Kind: KindStart, Text: fmt.Sprintf("%d hosts, releases %s, %d missing an image; %s; builds take %s, pulls %s; an hour of fleet time runs in %s",
		c.Hosts, strings.Join(c.Releases, " and "), c.Missing, mode, c.BuildTime, c.PullTime, time.Duration(float64(time.Hour)*c.Scale).Round(time.Millisecond))})
	if c.Rollout == RolloutStaged {
		s.emit(Event{Kind: KindStart, Text: "staged rollout: the bump is staged beside the spec in force; the orchestrator promotes it once every host holds its images; the cleanup window is open all along"})
	}
	if c.RemovedGrace > 0 {
		s.emit(Event{Kind: KindStart, Text: fmt.Sprintf("removal grace: images that leave every active spec are kept %s of fleet time before they may be pruned (shortened here: %s by default)", short(c.RemovedGrace), short(events.DefaultRemovedGrace))})
	}
	s.emit(Event{Kind: KindStart, Text: "dashboard and API: " + e.url + " (try " + e.url + "api/v1/hosts)"})
	s.tellNATS(e.ns.ClientURL(), strings.TrimSuffix(e.url, "/"))
}

// tellNATS says where the embedded NATS is (no credentials) and the
// commands that watch the run from another terminal.
func (s *Sim) tellNATS(natsURL, api string) {
	for _, line := range []string{
		"NATS: " + natsURL + " (no credentials); try from another terminal while this runs (Ctrl-C stops it):",
		"  vmfleet events --nats-url " + natsURL,
		"  vmfleet events --nats-url " + natsURL + " --since 1h --subject 'build.>'",
		"  nats sub --server " + natsURL + " '" + s.subj.All() + "'",
		"  vmfleet status --server " + api,
	} {
		s.emit(Event{Kind: KindStart, Text: line})
	}
}

// runCtx is Run's context (for the fake Buildkite's hooks).
func (s *Sim) runCtx() context.Context {
	if p := s.ctx.Load(); p != nil {
		return *p
	}
	return context.Background()
}

// now is the fleet time since the start.
func (s *Sim) now() time.Duration { return s.cfg.Fleet(time.Since(s.start)) }

// emit stamps an event with the fleet time and hands it to the observer.
func (s *Sim) emit(e Event) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	e.At = s.now()
	s.opts.observer(e)
}

// violate records a broken rule and tells it.
func (s *Sim) violate(v Violation) {
	s.ledger.violate(s.now(), v)
	what := v.VM
	if what == "" {
		what = v.Key
	}
	host := ""
	if v.Host != "" {
		host = v.Host + ": "
	}
	s.emit(Event{Kind: KindViolation, Host: v.Host, Text: fmt.Sprintf("SAFETY VIOLATION %s: %s%s: %s", v.Kind, host, what, v.Detail)})
}

// verdict maps how the run ended onto Run's error.
func (s *Sim) verdict(ctx context.Context, runErr error) error {
	res := s.Result()
	switch {
	case runErr != nil && !errors.Is(runErr, errConverged):
		return runErr
	case len(res.Violations) > 0:
		return fmt.Errorf("%w: %d (first: %s %s)", ErrViolations, len(res.Violations), res.Violations[0].Kind, res.Violations[0].Detail)
	case s.cfg.StopWhenConverged && !res.Converged:
		why := "interrupted"
		if te := (*timeoutError)(nil); errors.As(context.Cause(ctx), &te) {
			why = te.Error()
		}
		s.resMu.Lock()
		status := s.status
		s.resMu.Unlock()
		return fmt.Errorf("%w: %s: %s", ErrNotConverged, why, status)
	}
	return nil
}

// comeUpLimit is the least time the fleet has to come up (the nats-server,
// stream and buckets, the orchestrator, every host's first report) when
// Config.Timeout is set: Timeout counts from the moment it is up.
const comeUpLimit = time.Minute

// timeoutError is the cause of Run's context ending at a timeout.
type timeoutError struct {
	after    time.Duration
	comingUp bool // before every host had reported
}

func (e *timeoutError) Error() string {
	if e.comingUp {
		return fmt.Sprintf("timed out after %s before every host reported", e.after)
	}
	return fmt.Sprintf("timed out after %s", e.after)
}

// armTimeout starts the come-up limit, max(Timeout, comeUpLimit), when
// Timeout is set; at its end cancel ends the run.
func (s *Sim) armTimeout(cancel context.CancelCauseFunc) {
	if s.cfg.Timeout <= 0 {
		return
	}
	d := max(s.cfg.Timeout, comeUpLimit)
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	s.cancelRun = cancel
	s.timer = time.AfterFunc(d, func() { cancel(&timeoutError{after: d, comingUp: true}) })
}

// fleetUp starts Timeout's clock the first time every host has reported
// (unless the come-up limit already passed).
func (s *Sim) fleetUp() {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.up {
		return
	}
	s.up = true
	if s.timer == nil || !s.timer.Stop() {
		return
	}
	d, cancel := s.cfg.Timeout, s.cancelRun
	s.timer = time.AfterFunc(d, func() { cancel(&timeoutError{after: d}) })
}

func (s *Sim) stopTimeout() {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
