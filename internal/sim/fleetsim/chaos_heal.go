package fleetsim

import (
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// PruneFloor is the least fleet time the old images' prune takes after a
// bump once every host is ready on the new spec: each host's old images
// (one per release) deleted one at a time by one prune command, at most
// prunes.max_concurrent commands (the orchestrator's default, which the
// simulation keeps) at a time. With every host ready at once (the caps as
// bench converge sets them) the bump + Floor + PruneFloor is when a run
// without faults can converge at the earliest.
func (c Config) PruneFloor() time.Duration {
	if c.Bump == BumpNone {
		return 0
	}
	rounds := ceilDiv(c.Hosts, prunes.DefaultConfig().Concurrency)
	return time.Duration(rounds*len(c.Releases)) * c.DeleteTime
}

// healed fills the healing figures from the run's result.
func (r *ChaosResult) healed(res Result, cfg Config) {
	r.ConvergeFloor = res.BumpAt + Seconds(cfg.Floor()+cfg.PruneFloor())
	if ready := res.BumpAt + res.ReadyAfterBump; res.ReadyAfterBump > 0 && ready > r.LastFaultEnd {
		r.ReadyAfterLastFault = ready - r.LastFaultEnd
	}
	if !res.Converged {
		return
	}
	if res.ConvergedAt > r.LastFaultEnd {
		r.HealedAfterLastFault = res.ConvergedAt - r.LastFaultEnd
	}
	if from := max(r.LastFaultEnd, r.ConvergeFloor); res.ConvergedAt > from {
		r.HealedAfterFloor = res.ConvergedAt - from
	}
}

// buildKnown is the recovery condition of a webhook fault: the leading
// orchestrator knows the state of build number, as Buildkite has it now
// (its record of the build's key names the build with that state, or a
// later build of the key), however it learnt it: by a poll, the webhook
// arriving late, or another webhook.
func (c *chaosRun) buildKnown(number int) func() bool {
	return func() bool {
		b, err := c.e.bk.GetBuild(bkOrg, bkPipeline, number)
		rep := c.reps.leader()
		if err != nil || b.Key() == "" || rep == nil {
			return false
		}
		key, state := b.Key(), b.State
		for _, r := range rep.wo.Orchestrator.Builds() {
			if r.Key == key {
				return r.Number > number || r.Number == number && r.BuildkiteState == string(state)
			}
		}
		return false
	}
}
