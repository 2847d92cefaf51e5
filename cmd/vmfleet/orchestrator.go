package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/redact"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/web"
)

func init() { register(newOrchestratorCmd) }

func newOrchestratorCmd(g *globalFlags) *cobra.Command {
	cfg := defaultOrchestratorConfig()
	cmd := &cobra.Command{
		Use:   "orchestrator",
		Short: "Run the orchestrator: fleet state, image builds, pulls, read API",
		Long: `Runs the orchestrator. Without --nats-url it starts an embedded nats-server with
JetStream (store under --data-dir, listening for agents on --nats-listen); with
--nats-url it uses an existing NATS cluster (--replicas 3). It creates the VMFLEET
stream and the KV buckets, publishes the image spec to KV vmfleet_spec (when it
differs from the stored one), rebuilds every host's state from the stream, and
then, on every health event and every --tick: triggers build-macos-vm builds on
Buildkite for missing images (one per image with a registry, one per image and
host without), tells hosts to pull images already pushed, and serves the read
API, /metrics and the Buildkite webhook on --http-addr.`,
		Example: `  vmfleet orchestrator --buildkite-org acme --buildkite-token-file /etc/vmfleet/bk-token
  vmfleet orchestrator --config /etc/vmfleet/orchestrator.yaml
  vmfleet orchestrator --nats-url nats://a:4222,nats://b:4222,nats://c:4222 --replicas 3 --nats-creds orch.creds`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, orchestratorConfigEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := g.loadWithLogger(cmd, b)
		if err != nil {
			return err
		}
		return runOrchestrator(cmd.Context(), cfg, log)
	}
	return cmd
}

// orchSecrets are the tokens, read from files or env; never logged.
type orchSecrets struct {
	api, read, buildkite, whSecret, whToken, natsPassword string
}

func (c orchestratorConfig) secrets() (orchSecrets, error) {
	var s orchSecrets
	var err error
	for _, x := range []struct {
		key, file string
		value     secret
		dst       *string
	}{
		{"api_token_file", c.APITokenFile, c.APIToken, &s.api},
		{"api_read_token_file", c.APIReadTokenFile, c.APIReadToken, &s.read},
		{"buildkite.token_file", c.Buildkite.TokenFile, c.Buildkite.Token, &s.buildkite},
		{"webhook.secret_file", c.Webhook.SecretFile, c.Webhook.Secret, &s.whSecret},
		{"webhook.token_file", c.Webhook.TokenFile, c.Webhook.Token, &s.whToken},
		{"nats.password_file", c.NATS.PasswordFile, c.NATS.Password, &s.natsPassword}, // as NATSConn.password
	} {
		if *x.dst, err = readSecret(x.key, x.file, x.value); err != nil {
			return s, err
		}
	}
	return s, nil
}

func runOrchestrator(ctx context.Context, c orchestratorConfig, log *slog.Logger) error {
	if err := c.checkURLs(); err != nil {
		return err
	}
	sec, err := c.secrets()
	if err != nil {
		return err
	}
	redact.Add(log, sec.values()...) // mask them in every log line from now on
	defer exitOnSecondSignal(log)()
	instance := c.Instance
	if instance == "" {
		instance = defaultInstance()
	}
	ocfg := c.orchestratorCfg(instance, sec.api, sec.whSecret, sec.whToken)
	ocfg.APIReadToken = sec.read
	if err := orchestrator.ValidateSpec(ocfg.Spec); err != nil {
		return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	bk, err := c.buildkite(sec.buildkite, log)
	if err != nil {
		return err
	}
	limits, err := c.NATS.Stream.limits()
	if err != nil {
		return err
	}
	// HTTP first: /healthz and /readyz (with the reason) answer while NATS
	// is unreachable or refuses the credentials, as probes expect.
	boot := newBootHandler("nats: starting")
	stopHTTP, err := serveAPI(c.HTTPAddr, boot, log)
	if err != nil {
		return err
	}
	var stopHTTPOnce sync.Once
	defer stopHTTPOnce.Do(stopHTTP)
	urls, stopServer, err := c.natsServer(log)
	if err != nil {
		return err
	}
	defer stopServer()
	w := &natsWait{urls: urls}
	ccfg := c.NATS.connConfig("vmfleet-orchestrator "+instance, urls, sec.natsPassword, "")
	nc, err := bus.Connect(ccfg, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	w.nc = nc
	boot.setReasonFunc(w.reason)
	if err := ensureJetStream(ctx, nc, ocfg, limits, w, log); err != nil {
		return err
	}
	boot.setReason("nats: connected; making the leader lease")
	var opts []orchestrator.Option
	opts = append(opts, orchestrator.WithLogger(log), orchestrator.WithSource("/vmfleet/orchestrator/"+instance),
		orchestrator.WithRegistry(newDaemonRegistry())) // daemon_metrics.go
	lease, err := newLease(ctx, nc, instance, ocfg.LeaderTTL, log)
	if err != nil {
		return err
	}
	opts = append(opts, orchestrator.WithLease(lease))
	var api builds.Buildkite
	if bk != nil {
		api = bk
	}
	o, err := orchestrator.New(nc, api, ocfg, opts...)
	if err != nil {
		return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	srv, err := web.New(o)
	if err != nil {
		return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	boot.serve(srv.Handler())
	defer stopHTTPOnce.Do(stopHTTP) // before NATS closes, as the API reads through it
	log.Info("orchestrator running", "instance", instance, "http", c.HTTPAddr, "nats_urls", len(urls), "builds", bk != nil)
	webCtx, stopWeb := context.WithCancel(ctx)
	webDone := make(chan struct{})
	go func() { defer close(webDone); _ = srv.Run(webCtx) }() // the dashboard's live updates
	err = o.Run(ctx)                                          // returns after the drain, the lease handed back
	stopWeb()
	<-webDone
	drainConn(nc, 5*time.Second, log)
	log.Info("orchestrator stopped")
	return err
}

// buildkite makes the Buildkite client; without an organization builds are off.
func (c orchestratorConfig) buildkite(token string, log *slog.Logger) (*buildkite.Client, error) {
	if c.Buildkite.Org == "" {
		log.Warn("no Buildkite organization: builds are off (set --buildkite-org and --buildkite-token-file)")
		return nil, nil
	}
	bk, err := buildkite.New(buildkite.Config{
		APIURL: c.Buildkite.APIURL, Token: token, Org: c.Buildkite.Org, Pipeline: c.Buildkite.Pipeline,
		Branch: c.Buildkite.Branch, Commit: c.Buildkite.Commit, Timeout: c.Buildkite.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	return bk, nil
}

// natsServer starts the embedded nats-server when no URL is configured.
func (c orchestratorConfig) natsServer(log *slog.Logger) ([]string, func(), error) {
	if len(c.NATS.URLs) > 0 {
		return c.NATS.URLs, func() {}, nil
	}
	if err := os.MkdirAll(c.NATS.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("%w: nats.data_dir: %v", cliconfig.ErrConfig, err)
	}
	s, err := bus.StartServer(bus.ServerConfig{Listen: c.NATS.Listen, DataDir: c.NATS.DataDir, ConfigFile: c.NATS.ServerConfig, Name: "vmfleet"}, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("embedded nats-server running", "listen", s.Addr().String(), "data_dir", c.NATS.DataDir)
	return []string{clientURL(s)}, func() { s.Shutdown(); s.WaitForShutdown() }, nil
}

// clientURL is how the orchestrator reaches its own embedded server (a
// 0.0.0.0 listener is reached on loopback).
func clientURL(s *server.Server) string {
	if a, ok := s.Addr().(*net.TCPAddr); ok && (a.IP.IsUnspecified() || a.IP == nil) {
		return fmt.Sprintf("nats://127.0.0.1:%d", a.Port)
	}
	return s.ClientURL()
}

// natsWait says why the orchestrator is not connected to NATS or has not
// set up JetStream yet: the /readyz reason and the retry log line, naming
// the URL, the identity and the server's reason (bus.Describe).
type natsWait struct {
	urls  []string
	nc    *nats.Conn
	jsErr atomic.Pointer[error] // the last failed JetStream set-up's, explained
}

// reason names the URLs, the identity and the cause: the server's own
// (connection refused, authorization violation) while not connected, else
// what it refused or JetStream's error.
func (w *natsWait) reason() string {
	if w.nc == nil {
		return "nats: connecting to " + bus.RedactURLs(w.urls)
	}
	url, id, reason := bus.Describe(w.nc)
	if !w.nc.IsConnected() {
		return fmt.Sprintf("nats: connecting to %s as %s: %s", url, id, reason)
	}
	if p := w.jsErr.Load(); p != nil {
		return fmt.Sprintf("nats: setting up stream %s and the KV buckets: %v", events.StreamName, *p)
	}
	s := fmt.Sprintf("nats: connected to %s as %s; setting up stream %s and the KV buckets", url, id, events.StreamName)
	if reason != "" {
		s += ": " + reason
	}
	return s
}

// ensureJetStream creates the stream and buckets, waiting for NATS (the
// connection is made in the background) until ctx ends, logging why it
// waits.
func ensureJetStream(ctx context.Context, nc *nats.Conn, cfg orchestrator.Config, limits bus.StreamLimits, w *natsWait, log *slog.Logger) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	subj, err := events.NewSubjects(cfg.Prefix)
	if err != nil {
		return fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = bus.EnsureStreamLimits(cctx, js, subj, cfg.Replicas, limits)
		if err == nil {
			_, err = bus.EnsureBuckets(cctx, js, cfg.Replicas, cfg.LeaderTTL)
		}
		cancel()
		if err == nil {
			return nil
		}
		err = bus.Explain(nc, err)
		w.jsErr.Store(&err)
		log.Warn("cannot set up JetStream yet; retrying", "reason", w.reason(), "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// serveAPI serves h on addr until stop is called.
func serveAPI(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: http_addr %q: %v", cliconfig.ErrConfig, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP API stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
