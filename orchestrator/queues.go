package orchestrator

import (
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// BuildQueue is every wanted build a cap or Buildkite's rate limit holds
// back, by record key (builds.Manager.Queue).
func (o *Orchestrator) BuildQueue() map[string]builds.Queued { return o.builds.Queue() }

// PullsPending is every pull waiting for a free slot under
// pulls.max_concurrent or backing off, by host and image.
func (o *Orchestrator) PullsPending() map[pulls.HostImage]hostcmd.Pending {
	return o.pulls.Pending(o.now())
}
