package drains

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// DefaultTimeout bounds the wait for the agent's reply: it sets the forced
// state, then checks (one tart list) before it replies.
const DefaultTimeout = 30 * time.Second

// ErrHostOffline means the host cannot take a drain or a resume now: it is
// stale, or its agent did not answer the force command.
var ErrHostOffline = errors.New("host is offline")

// Deps is what Drain and Resume need of the orchestrator core.
type Deps struct {
	Now    func() time.Time
	Log    *slog.Logger
	Client hostcmd.Client // how the force command goes out
	// Publish announces the change (on <prefix>.fleet.drain).
	Publish func(ctx context.Context, ev events.HostDrain)
	// Timeout bounds the wait for the agent's reply (DefaultTimeout when
	// zero).
	Timeout time.Duration
}

// Stale is the refusal of a drain or resume of a host that has been silent
// since lastSeen: the force command needs its agent running.
func Stale(host string, lastSeen, now time.Time) error {
	return fmt.Errorf("%w: %s has not reported since %s (%s ago), so its agent cannot take the force command: "+
		"drain it once it reports again, or on the host itself with `vmfleet agent force-not-ready`",
		ErrHostOffline, host, lastSeen.UTC().Format(time.RFC3339), now.Sub(lastSeen).Round(time.Second))
}

// Drain forces every release of host not ready (until req.TTL passes, when
// set), recording req.By and req.Reason in the forced state, waits for the
// agent's reply and announces the drain. was is the host's forced state as
// its last report says. Draining a drained host again replaces its reason
// and TTL.
func Drain(ctx context.Context, d Deps, host string, was *events.Forced, req events.DrainRequest) (events.HostDrain, error) {
	if err := req.Validate(host); err != nil {
		return events.HostDrain{}, err
	}
	force := events.ForceRequest{State: events.ForcedNotReady, TTL: req.TTL, By: req.By, Reason: req.Reason}
	return run(ctx, d, host, events.DrainActionDrain, was, req, force)
}

// Resume clears host's forced state (a drain, or a force set on the host),
// waits for the agent's reply and announces the resume. Resuming a host
// that is not drained is no error: the answer's Was says so.
func Resume(ctx context.Context, d Deps, host string, was *events.Forced, req events.DrainRequest) (events.HostDrain, error) {
	req.TTL = 0
	if err := req.Validate(host); err != nil {
		return events.HostDrain{}, err
	}
	force := events.ForceRequest{Clear: true, By: req.By, Reason: req.Reason}
	return run(ctx, d, host, events.DrainActionResume, was, req, force)
}

func run(ctx context.Context, d Deps, host, action string, was *events.Forced, req events.DrainRequest, force events.ForceRequest) (events.HostDrain, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rep, err := d.Client.Send(ctx, hostcmd.Command{Verb: events.VerbForce, Host: host, Name: action, Req: force, Timeout: timeout})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return events.HostDrain{}, fmt.Errorf("%w: %s's agent does not listen for commands (%s: %w): is `vmfleet agent run` running there?",
			ErrHostOffline, host, d.Client.Subjects.Command(host, events.VerbForce), err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return events.HostDrain{}, fmt.Errorf("%w: %s's agent did not reply within %s: %w", ErrHostOffline, host, timeout, err)
	case err != nil:
		return events.HostDrain{}, err
	}
	now := d.Now().UTC()
	ev := events.HostDrain{Host: host, Action: action, By: req.By, Reason: req.Reason, Was: was, At: now}
	if req.TTL > 0 {
		ev.Until = now.Add(req.TTL.D())
	}
	if rep.Health != nil {
		ev.Forced = rep.Health.Forced
		if ev.Forced != nil && !ev.Forced.Until.IsZero() {
			ev.Until = ev.Forced.Until // the agent's clock decides
		}
	}
	msg := "host drained"
	if action == events.DrainActionResume {
		msg = "host resumed"
	}
	d.Log.Info(msg, "host", host, "by", req.By, "reason", req.Reason, "until", ev.Until, "was", describe(was))
	if d.Publish != nil {
		d.Publish(ctx, ev)
	}
	return ev, nil
}

// describe is a forced state for the log.
func describe(f *events.Forced) string {
	if f == nil {
		return "none"
	}
	s := string(f.State)
	if f.SetBy != "" {
		s += " by " + f.SetBy
	}
	return s
}
