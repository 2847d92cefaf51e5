package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// exitNotDelivered is `agent check`'s exit code when the check ran but its
// health event was refused by NATS or not delivered in time: cron-style
// callers must not take an unseen report for a seen one.
const exitNotDelivered = 3

// deliverTimeout bounds how long `agent check` waits for NATS to take its
// health event.
const deliverTimeout = 5 * time.Second

// confirmDelivery waits until nc is connected and the server has read
// everything published so far (a flush round trip), then checks the server
// did not refuse the publish on subject: a permissions violation is answered
// before the flush's PONG and recorded as the connection's last error.
func confirmDelivery(nc *nats.Conn, prefix, host string, timeout time.Duration) error {
	subj, err := events.NewSubjects(prefix)
	if err != nil {
		return err
	}
	subject := subj.Health(host)
	deadline := time.Now().Add(max(timeout, 100*time.Millisecond))
	if !waitConnected(nc, time.Until(deadline)) {
		return bus.Explain(nc, errors.New("health event not delivered"))
	}
	if err := nc.FlushTimeout(time.Until(deadline)); err != nil {
		return bus.Explain(nc, fmt.Errorf("health event not delivered: %w", err))
	}
	if err := nc.LastError(); err != nil && errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
		return fmt.Errorf("%w (a host's credentials may publish only its own health: is --nats-nkey-seed the seed 'vmfleet nats-config' wrote for host %s?)", bus.Explain(nc, errors.New("health event refused")), host)
	}
	return nil
}

// waitConnected waits up to timeout for nc to be connected.
func waitConnected(nc *nats.Conn, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !nc.IsConnected() {
		if nc.IsClosed() || time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
