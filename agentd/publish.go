package agentd

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// CheckAndPublish checks and publishes the result at once (without NATS it
// only checks). The error is a publish failure or the context's; the health
// is valid whenever the check ran.
func (a *Agent) CheckAndPublish(ctx context.Context) (events.HostHealth, error) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	h, err := a.check(ctx)
	if err != nil {
		return h, err
	}
	return h, a.publish(h)
}

// checkAndMaybePublish checks and publishes when the result differs from the
// last one published or a heartbeat is due.
func (a *Agent) checkAndMaybePublish(ctx context.Context) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	h, err := a.check(ctx)
	if err != nil {
		return
	}
	a.mu.Lock()
	changed := a.lastPub == nil || !sameHealth(*a.lastPub, h)
	due := time.Since(a.lastPubAt) >= a.cfg.Heartbeat-a.heartbeatSlack()
	a.mu.Unlock()
	if changed || due {
		if err := a.publish(h); err != nil {
			a.log.Warn("cannot publish health", "err", bus.Explain(a.nc, err))
		}
	}
}

// heartbeatSlack lets a timed check publish a heartbeat a little early rather
// than a whole interval late.
func (a *Agent) heartbeatSlack() time.Duration { return min(a.cfg.Heartbeat/10, time.Second) }

// Publish publishes h on <prefix>.host.<host>.health.
func (a *Agent) publish(h events.HostHealth) error {
	if a.nc == nil {
		return nil
	}
	subject := a.subj.Health(a.host)
	data, err := events.Encode(events.TypeHostHealth, a.source, a.host, h.MsgID(), a.now(), h)
	if err == nil {
		msg := nats.NewMsg(subject)
		msg.Header.Set(nats.MsgIdHdr, h.MsgID())
		msg.Data = data
		// Core publish: nats.go buffers it while reconnecting and never blocks.
		err = a.nc.PublishMsg(msg)
	}
	a.metrics.publish(err)
	a.mu.Lock()
	// lastPubAt (real time) counts failed attempts too, so that a closed
	// connection means one attempt per heartbeat, not a busy loop.
	a.lastPubAt = time.Now()
	if err == nil {
		a.lastPub = &h
	}
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	a.log.Debug("published health", "seq", h.Seq, "ready", h.Ready)
	return nil
}

// republish sends the latest health again (same sequence number, so JetStream
// drops it if the first copy arrived).
func (a *Agent) republish() {
	h, ok := a.Latest()
	if !ok {
		return
	}
	if err := a.publish(h); err != nil {
		a.log.Warn("cannot republish health", "err", bus.Explain(a.nc, err))
	}
}

// sameHealth compares what matters to subscribers: everything but the
// sequence, the check time and the free disk space, which change every check.
func sameHealth(a, b events.HostHealth) bool {
	a.Seq, b.Seq = 0, 0
	a.CheckedAt, b.CheckedAt = time.Time{}, time.Time{}
	a.Disk, b.Disk = nil, nil
	return reflect.DeepEqual(a, b)
}
