package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// The core's side of the fleet state (package orchestrator/hosts holds it):
// the host views of the read API, completed with what the core knows, and
// the operator's forget, which only the leader may do.

// Host states in the read API and metrics (package hosts).
const (
	HostReady    = hosts.Ready
	HostNotReady = hosts.NotReady
	HostStale    = hosts.Stale
)

// HostView is one host as the read API shows it (hosts.View).
type HostView = hosts.View

// ErrUnknownHost means the orchestrator has no report from the host.
var ErrUnknownHost = prunes.ErrUnknownHost

// ForgetRequest is POST /api/v1/hosts/{host}/forget (events.ForgetRequest).
type ForgetRequest = events.ForgetRequest

// Hosts returns every known host, sorted.
func (o *Orchestrator) Hosts() []HostView { return o.fleet.Views(o.now(), false, o.completeView) }

// HostReports returns every known host as of now, sorted, each with its last
// report in Health (shared: never modify it). A host's Health and LastSeen
// change together with its report, so a caller may compare them to see
// which hosts changed since an earlier call.
func (o *Orchestrator) HostReports(now time.Time) []HostView {
	return o.fleet.Views(now, true, o.completeView)
}

// Host returns one host with its full last report.
func (o *Orchestrator) Host(host string) (HostView, bool) {
	hs := o.fleet.Get(host)
	if hs == nil {
		return HostView{}, false
	}
	now := o.now()
	v := o.fleet.View(host, hs, now)
	o.completeView(&v, hs)
	v.Health = hs.Health
	pv := o.pruneView(now)
	v.Prune = o.prunes.HostView(host, hs.Health, &pv)
	return v, true
}

// completeView adds to a host's view what the core knows of it: its staged
// statuses while it checked against the staged spec, drift and pause.
func (o *Orchestrator) completeView(v *HostView, hs *hosts.State) {
	if next := o.next.Load(); next != nil && hs.Health.NextRevision == next.Revision {
		v.Staged = hs.Health.Staged
	}
	drift, since, reason, paused := o.agents.Host(v.Host)
	if drift {
		v.Drift, v.DriftSince, v.DriftReason = true, &since, reason
	}
	v.Paused = paused
}

// HostSeq returns the sequence number and boot id of a host's latest
// accepted health event: a lock and a map lookup, cheap enough to poll (the
// ingest benchmark does, to time events into the state), unlike Host, which
// builds the host's whole view and prune plan.
func (o *Orchestrator) HostSeq(host string) (seq uint64, bootID string, ok bool) {
	hs := o.fleet.Get(host)
	if hs == nil {
		return 0, "", false
	}
	return hs.Health.Seq, hs.Health.BootID, true
}

// ForgetHost forgets a host now, stale or not (a live host comes back with
// its next report): its events leave the stream, it leaves the fleet state,
// the host list and the host metrics, and the forget is logged and published
// on <prefix>.fleet.forget (hosts.Fleet.Forget).
func (o *Orchestrator) ForgetHost(ctx context.Context, host string, req ForgetRequest) (events.HostForgotten, error) {
	if err := o.writable(); err != nil {
		return events.HostForgotten{}, err
	}
	if err := req.Validate(host); err != nil {
		return events.HostForgotten{}, err
	}
	hs := o.fleet.Get(host)
	if hs == nil {
		return events.HostForgotten{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
	}
	if o.nc == nil {
		return events.HostForgotten{}, fmt.Errorf("forget host %s: %w: its events are in stream %s", host, ErrNoNATS, events.StreamName)
	}
	return o.fleet.Forget(ctx, host, hs, req.By, req.Reason, false)
}
