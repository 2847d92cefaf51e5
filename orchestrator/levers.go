package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
)

// initAgents sets up the drift check and the pause lever when Buildkite's
// agents API is at hand (WithBuildkiteAgents, or bk itself) and the listing
// is not turned off.
func (o *Orchestrator) initAgents(bk builds.Buildkite) error {
	api := o.opts.agents
	if a, ok := bk.(levers.BuildkiteAgents); ok && api == nil {
		api = a
	}
	if api == nil || o.cfg.Levers.Interval < 0 {
		if o.cfg.Levers.Pause {
			return fmt.Errorf("%w: buildkite.pause needs the Buildkite API (buildkite.org and a token)", ErrInvalidOption)
		}
		return nil
	}
	o.pubDrift = func(d events.TagDrift) {
		o.publish(context.Background(), o.subj.Drift(), events.TypeTagDrift, d.Host, d)
	}
	m, err := levers.New(api, o.cfg.Levers, levers.Deps{
		Now:     o.now,
		Hosts:   o.leverHosts,
		Leading: func() bool { return o.opts.isLeader() && o.fleet.CaughtUp() },
		TermContext: func() context.Context {
			o.term.mu.Lock()
			defer o.term.mu.Unlock()
			return o.term.ctx
		},
		Publish: func(d events.TagDrift) { o.pubDrift(d) },
	}, o.log, o.reg)
	if err != nil {
		return fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	o.agents = m
	return nil
}

// leverHosts is every known host as the levers read it.
func (o *Orchestrator) leverHosts(now time.Time) []levers.Host {
	var all []levers.Host
	o.fleet.Each(func(host string, hs *hosts.State) {
		all = append(all, levers.Host{Name: host, Hostname: hs.Health.Hostname, BuildkiteTags: hs.Health.BuildkiteTags,
			Releases: hs.Health.Releases, Stale: o.fleet.Stale(hs, now)})
	})
	return all
}
