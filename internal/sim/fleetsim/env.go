package fleetsim

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// The fake Buildkite organization and pipeline the orchestrator builds on.
const (
	bkOrg      = "vmfleet-demo"
	bkPipeline = "build-macos-vm"
	// webhookWorkers is how many webhooks the fake Buildkite has in flight at once.
	webhookWorkers = 8
)

// env is one run's infrastructure: the world (nats-server, stream and
// buckets, the fake Buildkite, the HTTP front serving the orchestrator's API
// and receiving webhooks), the simulation's subscription and the
// orchestrator.
type env struct {
	w    *simworld.World
	ns   *server.Server
	nc   *nats.Conn
	sub  *nats.Subscription
	msgs chan *nats.Msg
	kv   jetstream.KeyValue
	bk   *buildkitefake.Server
	wo   *simworld.Orchestrator
	o    *orchestrator.Orchestrator
	url  string
	// token is the orchestrator's API token (the simulation stages a
	// spec through the API, as `vmfleet spec stage` does).
	token string
	// sc is the nats-server's configuration (the chaos restarts it).
	sc bus.ServerConfig
	// closeChaos closes what the chaos added (nil: nothing).
	closeChaos func()
}

func (e *env) close() {
	if e.closeChaos != nil {
		e.closeChaos()
	}
	if e.w != nil {
		_ = e.w.StopFront()
	}
	if e.wo != nil {
		e.wo.Close()
	}
	if e.sub != nil {
		_ = e.sub.Unsubscribe()
	}
	if e.w != nil {
		e.w.Close()
	}
}

// setup builds the world (JetStream under dir; the fake Buildkite's builds
// do the simulated work: see outcome and onBuild), the simulation's
// subscription and the orchestrator (not yet running), configured with the
// scaled timings. On error it undoes what it did.
func (s *Sim) setup(ctx context.Context, dir string) (e *env, err error) {
	e = &env{}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	clog := s.opts.compLog
	sc := bus.ServerConfig{Listen: "127.0.0.1:-1", DataDir: filepath.Join(dir, "nats"), Name: "vmfleet-sim"}
	if n := s.cfg.NATSMaxConsumers; n != 0 {
		sc.ConfigFile = filepath.Join(dir, "nats-server.conf")
		conf := fmt.Sprintf("jetstream {\n  limits {\n    default_max_consumers: %d\n  }\n}\n", n)
		if err := os.WriteFile(sc.ConfigFile, []byte(conf), 0o600); err != nil {
			return e, err
		}
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return e, fmt.Errorf("%w: http_addr %q: %v", ErrInvalidConfig, s.cfg.HTTPAddr, err)
	}
	secret := events.NewID()
	bkOpts := []buildkitefake.Option{
		buildkitefake.WithTimings(s.tm.Queue, s.tm.Build), buildkitefake.WithOutcome(s.outcome),
		// Buildkite sends webhooks from a pool of workers, not one at a
		// time: a thousand builds finishing together do not queue behind
		// one another's receipt.
		buildkitefake.WithWebhookWorkers(webhookWorkers),
		buildkitefake.WithLogger(clog.With("component", "buildkite-fake")),
	}
	if n := s.cfg.BuildkiteRateLimit; n > 0 {
		bkOpts = append(bkOpts, buildkitefake.WithRateLimit(n, s.cfg.real(time.Minute, time.Millisecond)))
	}
	if e.w, err = simworld.New(ctx, append([]simworld.Option{
		simworld.WithNATSServer(sc), simworld.WithSubjects(s.subj), simworld.WithName("vmfleet-sim"), simworld.WithLogger(clog),
		simworld.WithFront(ln), simworld.WithPipeline(bkOrg, bkPipeline), simworld.WithWebhooks(secret),
		simworld.WithBuildkiteTimeout(10 * time.Second),
		simworld.WithBuildkite(bkOpts...)},
		s.chaos.worldOptions()...)...); err != nil {
		return e, err
	}
	e.ns, e.nc, e.kv, e.bk, e.url = e.w.NATS, e.w.Conn, e.w.Buckets.Spec, e.w.Buildkite, e.w.URL+"/"
	if e.sub, e.msgs, err = s.subscribe(e.nc); err != nil {
		return e, err
	}
	e.bk.OnStateChange(s.onBuild)
	e.sc = sc
	if err := s.chaos.setup(e); err != nil {
		return e, err
	}
	spec, _ := s.world.current()
	tm := s.tm
	e.token = events.NewID()
	if e.wo, err = s.newOrchestrator(e, orchestrator.Config{
		Spec: spec, Instance: "sim", Tick: tm.Tick, Hosts: hosts.Config{DefaultHeartbeat: tm.Heartbeat},
		Builds: builds.Config{PollInterval: tm.PollInterval, MaxBuilds: s.cfg.MaxBuilds, MaxBuildsPerHost: s.cfg.MaxBuildsPerHost, MaxAttempts: 5,
			BackoffBase: tm.BackoffBase, BackoffMax: tm.BackoffMax, DoubtDelay: tm.DoubtDelay, PassedGrace: tm.PassedGrace},
		Pulls: pulls.Config{Concurrency: s.cfg.MaxPulls, Timeout: max(10*tm.Pull, time.Minute)}, RequestTimeout: 10 * time.Second,
		WebhookSecret: secret, APIToken: e.token,
	}, orchestrator.WithLogger(clog.With("component", "orchestrator")), orchestrator.WithSource("/vmfleet/orchestrator/sim")); err != nil {
		return e, err
	}
	e.o = e.wo.Orchestrator
	e.w.Serve(s.chaos.front(e.wo.Web.Handler()))
	return e, nil
}

// serve waits for ctx to end, then stops the HTTP front (the orchestrator's
// API and the webhook receiver).
func (e *env) serve(ctx context.Context) error {
	<-ctx.Done()
	return e.w.StopFront()
}
