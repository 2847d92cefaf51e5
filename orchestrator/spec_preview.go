package orchestrator

import (
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// previewFleet is the snapshot a spec change's preview looks at
// (rollout.Fleet): the non-stale hosts' last reports, the build records,
// the images in their removal grace and the confirm fraction.
func (o *Orchestrator) previewFleet() rollout.Fleet {
	now := o.now()
	f := rollout.Fleet{Now: now, Current: o.Spec(), Next: o.Next(), Builds: o.builds.Records(),
		ConfirmNotReadyFraction: o.cfg.ConfirmNotReadyFraction}
	o.fleet.Each(func(_ string, hs *hosts.State) {
		if !o.fleet.Stale(hs, now) {
			f.Hosts = append(f.Hosts, hs.Health)
		}
	})
	f.Retained = o.prunes.RetainedAt(now)
	return f
}
