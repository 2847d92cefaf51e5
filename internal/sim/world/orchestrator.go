package world

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/web"
)

// ErrStopTimeout is returned by Orchestrator.Stop when Run did not return in time.
var ErrStopTimeout = errors.New("orchestrator's Run did not return")

// Orchestrator is an orchestrator built in the world on a connection of its
// own, which Stop or Close closes, with its HTTP face.
type Orchestrator struct {
	*orchestrator.Orchestrator
	// Conn is the orchestrator's NATS connection.
	Conn *nats.Conn
	// Web serves the orchestrator's API, dashboard and webhook receiver
	// (Web.Handler); Start runs its live updates too.
	Web *web.Server

	cancel  context.CancelFunc
	done    chan error
	webDone chan struct{}
	once    sync.Once
	err     error
}

// NewOrchestrator builds an orchestrator with cfg and opts against the
// world's NATS (a new connection) and Buildkite API (BuildkiteAPI, the
// world's token, organization and pipeline). It does not run it: Start
// does, or the caller runs it itself and calls Close at the end.
func (w *World) NewOrchestrator(cfg orchestrator.Config, opts ...orchestrator.Option) (*Orchestrator, error) {
	client, err := buildkite.New(buildkite.Config{
		APIURL: w.BuildkiteAPI, Token: w.Token, Org: w.Org, Pipeline: w.Pipeline, Timeout: w.opts.bkTimeout, Now: w.opts.bkNow,
	})
	if err != nil {
		return nil, err
	}
	name := w.opts.name + " orchestrator"
	if cfg.Instance != "" {
		name += " " + cfg.Instance
	}
	conn, err := w.Connect(name)
	if err != nil {
		return nil, err
	}
	o, err := orchestrator.New(conn, client, cfg, opts...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ws, err := web.New(o)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Orchestrator{Orchestrator: o, Conn: conn, Web: ws}, nil
}

// Start runs the orchestrator and its web server's live updates until Stop.
func (o *Orchestrator) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done, o.webDone = cancel, make(chan error, 1), make(chan struct{})
	go func() { o.done <- o.Run(ctx) }()
	go func() { defer close(o.webDone); _ = o.Web.Run(ctx) }()
}

// Stop ends what Start began: it cancels Run, waits up to timeout for it
// to return and closes the connection. It returns Run's error, or
// ErrStopTimeout; called again, it returns the same.
func (o *Orchestrator) Stop(timeout time.Duration) error {
	o.once.Do(func() {
		if o.cancel != nil {
			o.cancel()
			select {
			case o.err = <-o.done:
				<-o.webDone // it ends with the context
			case <-time.After(timeout):
				o.err = fmt.Errorf("%w within %v of cancel", ErrStopTimeout, timeout)
			}
		}
		o.Conn.Close()
	})
	return o.err
}

// Close closes the orchestrator's connection, for callers that run it
// themselves; after Start, use Stop.
func (o *Orchestrator) Close() { _ = o.Stop(0) }
