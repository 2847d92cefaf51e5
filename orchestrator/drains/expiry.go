package drains

import (
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Expiries notices drains that end at their TTL: the agent lifts them on
// its own clock, with no command and so no event of its own, and the first
// report after it no longer carries the drain. Every orchestrator feeds it
// every host's latest report (the reconcile pass, on each replica), so a
// new leader knows the drains in force as well as the old one did; only the
// leader announces what Observe returns, once, as the replica that saw the
// report in which the drain had gone.
//
// A drain is a forced not-ready state with a TTL, whoever set it (the
// orchestrator's drain, or `agent force-not-ready --ttl` on the host); its
// identity is its set_at. A drain gone from a report checked before its
// TTL was resumed or replaced (the resume has its event); one gone from a
// report checked at or after its TTL, by the agent's clock, expired.
//
// An orchestrator starts knowing only each host's last report, so a drain
// that expired while no orchestrator ran is not announced. Expiries is not
// safe for concurrent use: the reconcile pass is its only caller.
type Expiries struct {
	drains map[string]events.Forced
}

// Observe takes host's latest report and returns the drain it ended at its
// TTL, or nil.
func (x *Expiries) Observe(host string, h *events.HostHealth) *events.Forced {
	var expired *events.Forced
	if was, ok := x.drains[host]; ok && (h.Forced == nil || !h.Forced.SetAt.Equal(was.SetAt)) {
		delete(x.drains, host)
		if !h.CheckedAt.Before(was.Until) {
			expired = &was
		}
	}
	if f := h.Forced; f != nil && f.State == events.ForcedNotReady && !f.Until.IsZero() && f.Active(h.CheckedAt) {
		if x.drains == nil {
			x.drains = map[string]events.Forced{}
		}
		x.drains[host] = *f
	}
	return expired
}

// Sweep forgets the hosts known reports no longer, which known says: hosts
// forgotten, whose drains nobody will see end.
func (x *Expiries) Sweep(known func(host string) bool) {
	for h := range x.drains {
		if !known(h) {
			delete(x.drains, h)
		}
	}
}

// Expired is the fleet.drain event of a drain that ended at its TTL: by
// and reason are the drain's, was the drain itself, at when it was seen.
func Expired(host string, f *events.Forced, at time.Time) events.HostDrain {
	return events.HostDrain{Host: host, Action: events.DrainActionExpire, By: f.SetBy, Reason: f.Reason,
		Until: f.Until, Was: f, At: at.UTC()}
}
