package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
)

// exitInterrupted is the exit code of a second SIGINT/SIGTERM during shutdown.
const exitInterrupted = 130

// defaultInstance names an orchestrator replica that was not given
// --instance: the host name's token and the process id, so two replicas on
// one machine (or a restart) never share a lease id or a durable consumer.
func defaultInstance() string {
	h, _ := os.Hostname()
	tok, err := events.HostToken(h)
	if err != nil {
		tok = "orchestrator"
	}
	return tok + "-" + strconv.Itoa(os.Getpid())
}

// newLease makes the replica's leader lease on KV bucket vmfleet_leader.
func newLease(ctx context.Context, nc *nats.Conn, instance string, ttl time.Duration, log *slog.Logger) (*lease.Lease, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, events.BucketLeader)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", events.BucketLeader, err)
	}
	l, err := lease.New(kv, instance, ttl, lease.WithLogger(log.With("component", "lease")))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	return l, nil
}

// exitOnSecondSignal exits the process at once (code 130) when SIGINT or
// SIGTERM arrives while a first one is already being handled (main's
// context ends on the first: graceful shutdown). Call the returned stop when
// shutdown is over.
func exitOnSecondSignal(log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				if n++; n >= 2 {
					log.Warn("second signal: exiting now, without finishing the shutdown", "signal", s.String())
					os.Exit(exitInterrupted)
				}
				log.Info("shutting down: finishing work in flight, handing the lease back (signal again to exit now)", "signal", s.String())
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// drainConn drains the NATS connection (subscriptions stop taking messages,
// those received are handled, publishes are flushed) within a bound, then
// closes it.
func drainConn(nc *nats.Conn, timeout time.Duration, log *slog.Logger) {
	closed := make(chan struct{})
	prev := nc.Opts.ClosedCB // bus.Connect's
	nc.SetClosedHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		close(closed)
	})
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
		log.Warn("NATS drain did not finish in time; closing", "timeout", timeout)
		nc.Close()
	}
}
