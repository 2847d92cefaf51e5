package orchestrator

import "github.com/vmfleet/vmfleet/orchestrator/rollout"

// previewFleet is the snapshot a spec change's preview looks at
// (rollout.Fleet): the non-stale hosts' last reports, the build records,
// the images in their removal grace and the confirm fraction.
func (o *Orchestrator) previewFleet() rollout.Fleet {
	now := o.now()
	f := rollout.Fleet{Now: now, Current: o.Spec(), Next: o.Next(), Builds: o.builds.Records(),
		ConfirmNotReadyFraction: o.cfg.ConfirmNotReadyFraction}
	o.fleet.each(func(_ string, hs *hostState) {
		if !o.fleet.stale(hs, now) {
			f.Hosts = append(f.Hosts, hs.h)
		}
	})
	f.Retained = o.prunes.RetainedAt(now)
	return f
}
