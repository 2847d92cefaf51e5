package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// Forgetting a host: the operator's (ForgetHost) and the automatic one of
// hosts stale longer than Config.ForgetAfter (forgetStale, in the leader's
// full passes). The fleet state is rebuilt from the stream at every start,
// so forgetting purges the host's subjects (<prefix>.host.<host>.>) from
// stream VMFLEET before dropping the host from memory: nothing is left to
// replay, and no second record (a KV tombstone) can disagree with the
// stream. The host comes back with its next report, as a new host. The
// leader forgets; every replica follows its fleet.forget events
// (followForgets).

// ErrUnknownHost means the orchestrator has no report from the host.
var ErrUnknownHost = prunes.ErrUnknownHost

// ForgetRequest is POST /api/v1/hosts/{host}/forget (events.ForgetRequest).
type ForgetRequest = events.ForgetRequest

// ForgetHost forgets a host now, stale or not (a live host comes back with
// its next report): its events leave the stream, it leaves the fleet state,
// the host list and the host metrics, and the forget is logged and published
// on <prefix>.fleet.forget.
func (o *Orchestrator) ForgetHost(ctx context.Context, host string, req ForgetRequest) (events.HostForgotten, error) {
	if err := o.writable(); err != nil {
		return events.HostForgotten{}, err
	}
	if err := req.Validate(host); err != nil {
		return events.HostForgotten{}, err
	}
	hs := o.fleet.get(host)
	if hs == nil {
		return events.HostForgotten{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
	}
	return o.forget(ctx, host, hs, req.By, req.Reason, false)
}

// forgetStale forgets every host stale for longer than ForgetAfter at now.
func (o *Orchestrator) forgetStale(ctx context.Context, now time.Time) {
	type gone struct {
		host string
		hs   *hostState
	}
	var old []gone
	o.fleet.each(func(host string, hs *hostState) {
		if !now.Before(o.fleet.staleAt(hs).Add(o.cfg.ForgetAfter)) {
			old = append(old, gone{host, hs})
		}
	})
	for _, g := range old {
		reason := fmt.Sprintf("stale for %s (hosts.forget_after)", o.cfg.ForgetAfter)
		if _, err := o.forget(ctx, g.host, g.hs, "", reason, true); err != nil {
			o.log.Warn("cannot forget stale host", "host", g.host, "err", err)
		}
	}
}

// forget purges host's events from the stream, then drops hs from the fleet
// unless a newer report replaced it meanwhile, and announces the forget.
func (o *Orchestrator) forget(ctx context.Context, host string, hs *hostState, by, reason string, auto bool) (events.HostForgotten, error) {
	if o.nc == nil {
		return events.HostForgotten{}, errors.New("forget host: no NATS connection")
	}
	if err := bus.PurgeSubject(ctx, o.nc, events.StreamName, o.subj.HostSubjects(host)); err != nil {
		return events.HostForgotten{}, fmt.Errorf("forget host %s: %w", host, err)
	}
	o.fleet.drop(host, hs)
	ev := events.HostForgotten{Host: host, By: by, Reason: reason, Auto: auto, LastSeen: hs.lastSeen.UTC(), At: o.now().UTC()}
	o.log.Info("host forgotten", "host", host, "by", by, "reason", reason, "auto", auto, "last_seen", ev.LastSeen)
	o.publish(ctx, o.subj.HostForgotten(), events.TypeHostForgotten, host, ev)
	o.Trigger()
	return ev, nil
}

// drop removes host from the fleet if its state is still hs: a report
// ingested since hs was read keeps the host.
func (f *fleet) drop(host string, hs *hostState) {
	sh := f.shard(host)
	sh.mu.Lock()
	if sh.hosts[host] == hs {
		delete(sh.hosts, host)
	}
	sh.mu.Unlock()
}

// followForgets drops, on every orchestrator, the hosts the leader forgets
// (the <prefix>.fleet.forget events): a follower's state is otherwise only
// rebuilt at its start. A report seen after the forget keeps the host.
func (o *Orchestrator) followForgets(ctx context.Context) error {
	if o.nc == nil {
		return nil
	}
	sub, err := o.nc.Subscribe(o.subj.HostForgotten(), func(m *nats.Msg) {
		ev, err := events.DecodeEither[events.HostForgotten](m.Data, events.TypeHostForgotten)
		if err != nil {
			o.log.Warn("ignoring an invalid host forget event", "subject", m.Subject, "err", err)
			return
		}
		if hs := o.fleet.get(ev.Host); hs != nil && !hs.lastSeen.After(ev.At) {
			o.fleet.drop(ev.Host, hs)
			o.log.Info("host forgotten by the leader", "host", ev.Host, "by", ev.By, "reason", ev.Reason, "auto", ev.Auto)
			o.Trigger()
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", o.subj.HostForgotten(), err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	return nil
}
