package hosts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// Forgetting a host: the operator's and the automatic one of hosts stale
// longer than Config.ForgetAfter (ForgetStale, in the leader's full passes).
// The fleet state is rebuilt from the stream at every start, so forgetting
// purges the host's subjects (<prefix>.host.<host>.>) from stream VMFLEET
// before dropping the host from memory: nothing is left to replay, and no
// second record (a KV tombstone) can disagree with the stream. The host comes
// back with its next report, as a new host. The leader forgets; every replica
// follows its fleet.forget events (FollowForgets).

// ForgetStale forgets every host stale for longer than ForgetAfter at now.
func (f *Fleet) ForgetStale(ctx context.Context, now time.Time) {
	type gone struct {
		host string
		s    *State
	}
	var old []gone
	f.Each(func(host string, s *State) {
		if !now.Before(f.StaleAt(s).Add(f.cfg.ForgetAfter)) {
			old = append(old, gone{host, s})
		}
	})
	for _, g := range old {
		reason := fmt.Sprintf("stale for %s (hosts.forget_after)", f.cfg.ForgetAfter)
		if _, err := f.Forget(ctx, g.host, g.s, "", reason, true); err != nil {
			f.deps.Log.Warn("cannot forget stale host", "host", g.host, "err", err)
		}
	}
}

// Forget purges host's events from the stream, then drops s from the fleet
// unless a newer report replaced it meanwhile, and announces the forget on
// <prefix>.fleet.forget: by and reason are the operator's, auto is set for
// ForgetStale's.
func (f *Fleet) Forget(ctx context.Context, host string, s *State, by, reason string, auto bool) (events.HostForgotten, error) {
	if f.deps.Conn == nil {
		return events.HostForgotten{}, errors.New("forget host: no NATS connection")
	}
	if err := bus.PurgeSubject(ctx, f.deps.Conn, events.StreamName, f.subj.HostSubjects(host)); err != nil {
		return events.HostForgotten{}, fmt.Errorf("forget host %s: %w", host, err)
	}
	f.Drop(host, s)
	ev := events.HostForgotten{Host: host, By: by, Reason: reason, Auto: auto, LastSeen: s.LastSeen.UTC(), At: f.deps.Now().UTC()}
	f.deps.Log.Info("host forgotten", "host", host, "by", by, "reason", reason, "auto", auto, "last_seen", ev.LastSeen)
	f.deps.Publish(f.subj.HostForgotten(), events.TypeHostForgotten, host, ev)
	f.deps.Wake()
	return ev, nil
}

// FollowForgets drops, on every orchestrator, the hosts the leader forgets
// (the <prefix>.fleet.forget events) until ctx ends: a follower's state is
// otherwise only rebuilt at its start. A report seen after the forget keeps
// the host.
func (f *Fleet) FollowForgets(ctx context.Context) error {
	if f.deps.Conn == nil {
		return nil
	}
	sub, err := f.deps.Conn.Subscribe(f.subj.HostForgotten(), func(m *nats.Msg) {
		ev, err := events.DecodeEither[events.HostForgotten](m.Data, events.TypeHostForgotten)
		if err != nil {
			f.deps.Log.Warn("ignoring an invalid host forget event", "subject", m.Subject, "err", err)
			return
		}
		if s := f.Get(ev.Host); s != nil && !s.LastSeen.After(ev.At) {
			f.Drop(ev.Host, s)
			f.deps.Log.Info("host forgotten by the leader", "host", ev.Host, "by", ev.By, "reason", ev.Reason, "auto", ev.Auto)
			f.deps.Wake()
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", f.subj.HostForgotten(), err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	return nil
}
