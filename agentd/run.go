package agentd

import (
	"context"
	"errors"
	"time"

	"github.com/vmfleet/vmfleet/internal/rungroup"
)

// Run is the daemon: it checks at once, then on every trigger (the timer or
// cron schedule, a change under $TART_HOME/vms or of the forced state, a spec
// change in KV, a check command), publishing when anything changed and at
// least every heartbeat. With a NATS connection it also watches the spec and
// serves commands. It returns nil when ctx ends, after every goroutine ended.
func (a *Agent) Run(ctx context.Context) error {
	g, ctx := rungroup.New(ctx)
	defer a.hookReconnect()()
	// Watches and subscriptions are in place before the first check, so that
	// anything after the first health event is seen.
	var w *fileWatch
	if !a.noWatch {
		w = a.newWatcher()
	}
	var cmds *commandSub
	if a.nc != nil {
		var err error
		if cmds, err = a.subscribeCommands(); err != nil {
			_ = w.close()
			return err
		}
	}
	g.Go(func() error { return a.watchFiles(ctx, w) })
	g.Go(func() error { return a.loop(ctx) })
	if a.nc != nil {
		g.Go(func() error { return a.watchSpec(ctx) })
		g.Go(func() error { return a.serveCommands(ctx, cmds) })
	}
	a.log.Info("agent running", "tart_home", a.cfg.TartHome, "interval", a.cfg.Interval, "schedule", a.cfg.Schedule, "nats", a.nc != nil)
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Trigger asks the running agent for a check soon (e.g. after buildkite-agent
// restarted with new tags); a burst of triggers is one check.
func (a *Agent) Trigger() { a.trigger() }

// trigger asks the loop for a check; a burst of triggers is one check.
func (a *Agent) trigger() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// loop owns timed checks, heartbeats, forced-state expiry and reconnect
// republishing; every other trigger wakes it through a.wake.
func (a *Agent) loop(ctx context.Context) error {
	sched, err := parseSchedule(a.cfg.Schedule, a.cfg.Interval)
	if err != nil {
		return err
	}
	a.checkAndMaybePublish(ctx)
	nextCheck := sched.Next(time.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(a.nextWake(nextCheck)))
		select {
		case <-ctx.Done():
			return nil
		case <-a.republishCh:
			a.republish()
		case <-a.wake:
			a.checkAndMaybePublish(ctx)
		case <-timer.C:
			if now := time.Now(); !now.Before(nextCheck) {
				nextCheck = sched.Next(now)
			}
			a.checkAndMaybePublish(ctx)
		}
	}
}

// nextWake is the earliest of the next timed check, the next heartbeat (when
// publishing) and the expiry of the forced state.
func (a *Agent) nextWake(nextCheck time.Time) time.Time {
	at := nextCheck
	a.mu.Lock()
	last := a.last
	if a.nc != nil && !a.lastPubAt.IsZero() {
		if hb := a.lastPubAt.Add(a.cfg.Heartbeat); hb.Before(at) {
			at = hb
		}
	}
	a.mu.Unlock()
	if last != nil && last.Forced != nil && !last.Forced.Until.IsZero() {
		// Until is on the agent's clock (injectable); wait that long in real time.
		if exp := time.Now().Add(last.Forced.Until.Sub(a.now())); exp.Before(at) {
			at = exp
		}
	}
	return at
}
