package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
)

// DrainRequest is POST /api/v1/hosts/{host}/drain and /resume
// (events.DrainRequest).
type DrainRequest = events.DrainRequest

// DrainHost forces every release of a known, reporting host not ready
// through its agent's force command, and announces it on
// <prefix>.fleet.drain (package orchestrator/drains).
func (o *Orchestrator) DrainHost(ctx context.Context, host string, req DrainRequest) (events.HostDrain, error) {
	return o.drainHost(ctx, host, req, drains.Drain)
}

// ResumeHost clears a host's forced state (a drain) through its agent's
// force command, and announces it on <prefix>.fleet.drain.
func (o *Orchestrator) ResumeHost(ctx context.Context, host string, req DrainRequest) (events.HostDrain, error) {
	return o.drainHost(ctx, host, req, drains.Resume)
}

type drainFunc func(context.Context, drains.Deps, string, *events.Forced, events.DrainRequest) (events.HostDrain, error)

func (o *Orchestrator) drainHost(ctx context.Context, host string, req DrainRequest, do drainFunc) (events.HostDrain, error) {
	if err := o.writable(); err != nil {
		return events.HostDrain{}, err
	}
	if err := req.Validate(host); err != nil {
		return events.HostDrain{}, err
	}
	hs, now := o.fleet.Get(host), o.now()
	switch {
	case hs == nil:
		return events.HostDrain{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
	case o.fleet.Stale(hs, now):
		return events.HostDrain{}, drains.Stale(host, hs.LastSeen, now)
	}
	var was *events.Forced
	if hs.Health.Forced.Active(now) {
		was = hs.Health.Forced
	}
	return do(ctx, drains.Deps{Now: o.now, Log: o.log, Client: o.commands(), Publish: func(ctx context.Context, ev events.HostDrain) {
		o.publish(ctx, o.subj.HostDrain(), events.TypeHostDrain, ev.Host, ev)
	}}, host, was, req)
}

// observeDrain hands host's latest report to the drain expiries, on every
// replica, and keeps the end of a drain at its TTL for announceExpired.
func (o *Orchestrator) observeDrain(host string, hs *hosts.State, now time.Time) {
	if f := o.expiries.Observe(host, hs.Health); f != nil {
		o.expired = append(o.expired, drains.Expired(host, f, now))
	}
}

// announceExpired logs and publishes on <prefix>.fleet.drain the drains the
// pass saw end at their TTL, when this orchestrator leads (and has replayed
// the stream); a follower saw the same reports and drops them, so each end
// is announced once, by the leader of the moment.
func (o *Orchestrator) announceExpired(ctx context.Context, lead bool) {
	for _, ev := range o.expired {
		if lead {
			o.log.Info("host drain expired", "host", ev.Host, "by", ev.By, "reason", ev.Reason, "until", ev.Until)
			o.publish(ctx, o.subj.HostDrain(), events.TypeHostDrain, ev.Host, ev)
		}
	}
	o.expired = o.expired[:0]
}
