package orchestrator

import (
	"context"
	"fmt"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
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
