package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/web"
)

// The fake Buildkite organization and pipeline the orchestrator builds on.
const (
	bkOrg      = "vmfleet-demo"
	bkPipeline = "build-macos-vm"
	// webhookWorkers is how many webhooks the fake Buildkite has in flight at once.
	webhookWorkers = 8
)

// env is one run's infrastructure: the nats-server, the simulation's own
// connection, the fake Buildkite, the orchestrator and its HTTP server.
type env struct {
	ns    *server.Server
	nc    *nats.Conn
	sub   *nats.Subscription
	msgs  chan *nats.Msg
	kv    jetstream.KeyValue
	bk    *buildkitefake.Server
	oconn *nats.Conn
	o     *orchestrator.Orchestrator
	ln    net.Listener
	srv   *http.Server
	web   *web.Server
	url   string
}

func (e *env) close() {
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.srv.Shutdown(ctx)
		cancel()
	} else if e.ln != nil {
		_ = e.ln.Close()
	}
	if e.bk != nil {
		e.bk.Close()
	}
	if e.oconn != nil {
		e.oconn.Close()
	}
	if e.sub != nil {
		_ = e.sub.Unsubscribe()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	if e.ns != nil {
		e.ns.Shutdown()
		e.ns.WaitForShutdown()
	}
}

// setup starts the nats-server (JetStream under dir), the stream and
// buckets, the simulation's subscription, the fake Buildkite and the
// orchestrator (not yet running). On error it undoes what it did.
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
	if e.ns, err = bus.StartServer(sc, clog.With("component", "nats-server")); err != nil {
		return e, err
	}
	if e.nc, err = bus.Connect(bus.ConnConfig{URLs: []string{e.ns.ClientURL()}, Name: "vmfleet-sim"}, s.opts.log); err != nil {
		return e, err
	}
	if e.kv, err = s.ensureJetStream(ctx, e.nc); err != nil {
		return e, err
	}
	if e.sub, e.msgs, err = s.subscribe(e.nc); err != nil {
		return e, err
	}
	if e.ln, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return e, fmt.Errorf("%w: http_addr %q: %v", ErrInvalidConfig, s.cfg.HTTPAddr, err)
	}
	e.url = "http://" + e.ln.Addr().String() + "/"
	if err := s.startOrchestrator(ctx, e); err != nil {
		return e, err
	}
	if e.web, err = web.New(e.o); err != nil {
		return e, err
	}
	e.srv = &http.Server{Handler: e.web.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return e, nil
}

func (s *Sim) ensureJetStream(ctx context.Context, nc *nats.Conn) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := bus.EnsureStream(cctx, js, s.subj, 1); err != nil {
		return nil, err
	}
	b, err := bus.EnsureBuckets(cctx, js, 1, 15*time.Second)
	if err != nil {
		return nil, err
	}
	return b.Spec, nil
}

// startOrchestrator makes the fake Buildkite (its builds do the simulated
// work: see outcome and onBuild) and the orchestrator, configured with the
// scaled timings.
func (s *Sim) startOrchestrator(ctx context.Context, e *env) error {
	token, secret := events.NewID(), events.NewID()
	var err error
	e.bk, err = buildkitefake.New(ctx,
		buildkitefake.WithToken(token), buildkitefake.WithPipelines(bkOrg, bkPipeline),
		buildkitefake.WithWebhook(e.url+"webhooks/buildkite", secret),
		buildkitefake.WithTimings(s.tm.Queue, s.tm.Build), buildkitefake.WithOutcome(s.outcome),
		// Buildkite sends webhooks from a pool of workers, not one at a
		// time: a thousand builds finishing together do not queue behind
		// one another's receipt.
		buildkitefake.WithWebhookWorkers(webhookWorkers),
		buildkitefake.WithLogger(s.opts.compLog.With("component", "buildkite-fake")))
	if err != nil {
		return err
	}
	e.bk.OnStateChange(s.onBuild)
	client, err := buildkite.New(buildkite.Config{
		APIURL: e.bk.URL(), Token: token, Org: bkOrg, Pipeline: bkPipeline, Timeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	if e.oconn, err = bus.Connect(bus.ConnConfig{URLs: []string{e.ns.ClientURL()}, Name: "vmfleet-orchestrator sim"}, s.opts.compLog); err != nil {
		return err
	}
	spec, _ := s.world.current()
	tm := s.tm
	e.o, err = orchestrator.New(e.oconn, client, orchestrator.Config{
		Spec: spec, Instance: "sim", Tick: tm.Tick, PollInterval: tm.PollInterval, DefaultHeartbeat: tm.Heartbeat,
		MaxBuilds: s.cfg.MaxBuilds, MaxBuildsPerHost: s.cfg.MaxBuildsPerHost, MaxAttempts: 5,
		BackoffBase: tm.BackoffBase, BackoffMax: tm.BackoffMax, DoubtDelay: tm.DoubtDelay, PassedGrace: tm.PassedGrace,
		PullConcurrency: s.cfg.MaxPulls, PullTimeout: max(10*tm.Pull, time.Minute), RequestTimeout: 10 * time.Second,
		WebhookSecret: secret, APIToken: events.NewID(),
	}, orchestrator.WithLogger(s.opts.compLog.With("component", "orchestrator")), orchestrator.WithSource("/vmfleet/orchestrator/sim"))
	return err
}

// serve serves the orchestrator's API until ctx ends.
func (e *env) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Serve(e.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("HTTP API: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
