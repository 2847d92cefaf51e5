package world

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
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
)

// Defaults of the fake Buildkite organization and pipeline.
const (
	DefaultOrg      = "acme"
	DefaultPipeline = "build-macos-vm"
)

// World is one process's vmfleet world. Fields are set by New and not
// changed after, except BuildkiteAPI.
type World struct {
	// NATS is the embedded nats-server; nil under WithoutNATS.
	NATS *server.Server
	// Conn is the world's own connection (for publishing and watching);
	// nil under WithoutNATS.
	Conn *nats.Conn
	// JetStream is Conn's JetStream.
	JetStream jetstream.JetStream
	// Buckets are the KV buckets, created with the stream.
	Buckets bus.Buckets
	// Subjects are the stream's subjects.
	Subjects events.Subjects
	// Buildkite is the fake Buildkite API.
	Buildkite *buildkitefake.Server
	// BuildkiteAPI is the Buildkite API URL orchestrators built by
	// NewOrchestrator use: the fake's, unless a caller puts a proxy in
	// front of it.
	BuildkiteAPI string
	// Org, Pipeline and Token are the fake Buildkite's organization,
	// pipeline and API token.
	Org, Pipeline, Token string
	// URL is the HTTP front's base URL (no trailing slash). The fake's
	// webhooks, when on, go to URL + "/webhooks/buildkite".
	URL string

	opts    options
	tmpDir  string
	front   *http.Server
	frontLn net.Listener
	handler atomic.Pointer[http.Handler]
	served  chan error

	stopOnce  sync.Once
	stopErr   error
	closeOnce sync.Once
}

// New builds a world: the nats-server, the world's connection, the stream
// and buckets, the HTTP front and the fake Buildkite. On error it takes down
// what it started. Close takes the world down.
func New(ctx context.Context, opts ...Option) (w *World, err error) {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	w = &World{opts: o, Org: o.org, Pipeline: o.pipeline, Token: o.token, Subjects: o.subj}
	if w.Token == "" {
		w.Token = events.NewID()
	}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if o.nats {
		if err := w.startNATS(ctx); err != nil {
			return w, err
		}
	}
	if err := w.startFront(); err != nil {
		return w, err
	}
	bkOpts := []buildkitefake.Option{buildkitefake.WithToken(w.Token), buildkitefake.WithPipelines(w.Org, w.Pipeline)}
	if o.webhookSecret != "" {
		bkOpts = append(bkOpts, buildkitefake.WithWebhook(w.URL+"/webhooks/buildkite", o.webhookSecret))
	}
	if w.Buildkite, err = buildkitefake.New(ctx, append(bkOpts, o.bk...)...); err != nil {
		return w, err
	}
	w.BuildkiteAPI = w.Buildkite.URL()
	return w, nil
}

// startNATS starts the nats-server, connects and makes the stream and buckets.
func (w *World) startNATS(ctx context.Context) (err error) {
	sc := w.opts.server
	if sc.Listen == "" {
		sc.Listen = "127.0.0.1:-1"
	}
	if sc.DataDir == "" {
		if w.tmpDir, err = os.MkdirTemp("", "vmfleet-world-"); err != nil {
			return err
		}
		sc.DataDir = w.tmpDir
	}
	if w.NATS, err = bus.StartServer(sc, w.opts.log.With("component", "nats-server")); err != nil {
		return err
	}
	if w.Conn, err = bus.Connect(bus.ConnConfig{URLs: []string{w.NATS.ClientURL()}, Name: w.opts.name}, w.opts.log); err != nil {
		return err
	}
	if w.JetStream, err = jetstream.New(w.Conn); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := bus.EnsureStream(cctx, w.JetStream, w.Subjects, 1); err != nil {
		return err
	}
	w.Buckets, err = bus.EnsureBuckets(cctx, w.JetStream, 1, w.opts.leaderTTL)
	return err
}

// startFront serves the front on its listener: whatever Serve last put
// there, else 503.
func (w *World) startFront() error {
	ln := w.opts.frontLn
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("HTTP front: %w", err)
		}
	}
	w.frontLn = ln
	w.URL = "http://" + ln.Addr().String()
	w.front = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if h := w.handler.Load(); h != nil {
			(*h).ServeHTTP(rw, r)
			return
		}
		http.Error(rw, "no orchestrator", http.StatusServiceUnavailable)
	})}
	w.served = make(chan error, 1)
	srv, served := w.front, w.served
	go func() { served <- srv.Serve(ln) }()
	return nil
}

// Serve makes h what the front serves (nil: 503 to every request).
func (w *World) Serve(h http.Handler) {
	if h == nil {
		w.handler.Store(nil)
		return
	}
	w.handler.Store(&h)
}

// StopFront stops the front: it closes the listener and waits up to 5 s for
// requests in flight. It returns the error the front stopped serving with,
// if something other than StopFront stopped it; called again, it returns
// the same. Close calls it.
func (w *World) StopFront() error {
	w.stopOnce.Do(func() {
		if w.front == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.front.Shutdown(ctx)
		if err := <-w.served; !errors.Is(err, http.ErrServerClosed) {
			w.stopErr = fmt.Errorf("HTTP front: %w", err)
		}
	})
	return w.stopErr
}

// Connect makes another connection to the world's NATS named name.
func (w *World) Connect(name string) (*nats.Conn, error) {
	if w.NATS == nil {
		return nil, errors.New("world: no embedded NATS")
	}
	return bus.Connect(bus.ConnConfig{URLs: []string{w.NATS.ClientURL()}, Name: name, ReconnectWait: w.opts.reconnectWait}, w.opts.log)
}

// Close takes the world down: the front, the fake Buildkite, the world's
// connection and the nats-server, and removes the store New made.
// Orchestrators built in it are the caller's to stop first. Calling it
// again does nothing.
func (w *World) Close() { w.closeOnce.Do(w.close) }

func (w *World) close() {
	_ = w.StopFront()
	if w.frontLn == nil && w.opts.frontLn != nil {
		_ = w.opts.frontLn.Close() // New failed before serving on it
	}
	if w.Buildkite != nil {
		w.Buildkite.Close()
	}
	if w.Conn != nil {
		w.Conn.Close()
	}
	if w.NATS != nil {
		w.NATS.Shutdown()
		w.NATS.WaitForShutdown()
	}
	if w.tmpDir != "" {
		_ = os.RemoveAll(w.tmpDir)
	}
}

// ClientURL is the embedded nats-server's client URL ("" under WithoutNATS).
func (w *World) ClientURL() string {
	if w.NATS == nil {
		return ""
	}
	return w.NATS.ClientURL()
}

// logger or a discarding one.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
