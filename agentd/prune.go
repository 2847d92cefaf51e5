package agentd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
)

// Prune deletes the requested VMs that the cleanup rules still allow
// (docs/orchestrator.md#cleanup): under the host lock it re-lists, plans
// again with cleanup.Plan (Only = the requested names, the spec's cleanup
// policy and windows at the agent's clock, the live disk, the staged spec
// and the images in their removal grace from the spec keys' history, so no
// orchestrator can make it delete within the grace), deletes one VM at a
// time, and publishes each outcome on <prefix>.prune.<host>.<result>. A dry run deletes nothing and reports
// "planned". Then it checks and publishes. Outcomes are returned in order.
func (a *Agent) Prune(ctx context.Context, req events.PruneRequest) ([]events.PruneOutcome, events.HostHealth, error) {
	if err := req.Validate(); err != nil {
		return nil, events.HostHealth{}, err
	}
	unlock, err := a.lockHost(ctx)
	if err != nil {
		return nil, events.HostHealth{}, err
	}
	out, err := a.pruneLocked(ctx, req)
	// The check reads only: the host's next command need not wait for it.
	unlock()
	if err != nil {
		return nil, events.HostHealth{}, err
	}
	h, err := a.CheckAndPublish(ctx)
	return out, h, err
}

// pruneLocked plans against the live inventory and deletes, under the host lock.
func (a *Agent) pruneLocked(ctx context.Context, req events.PruneRequest) ([]events.PruneOutcome, error) {
	plan, sizes, err := a.planPrune(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []events.PruneOutcome
	for _, d := range plan.Prune {
		o := a.pruneOne(ctx, d, req.DryRun)
		o.SizeGB = sizes[d.VM]
		out = append(out, a.publishOutcome(o))
	}
	for _, d := range plan.Keep {
		if d.Rule != cleanup.RuleNotRequested {
			out = append(out, a.publishOutcome(a.outcome(d.VM, events.PruneSkipped, d.String(), req.DryRun)))
		}
	}
	for _, name := range plan.Gone {
		out = append(out, a.publishOutcome(a.outcome(name, events.PruneSkipped, events.PruneReasonGone, req.DryRun)))
	}
	return out, nil
}

// planPrune re-lists and plans against the live inventory; it also returns
// each VM's size on disk.
func (a *Agent) planPrune(ctx context.Context, req events.PruneRequest) (cleanup.Result, map[string]int, error) {
	lctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	vms, err := a.tart.List(lctx)
	cancel()
	if err != nil {
		return cleanup.Result{}, nil, fmt.Errorf("prune: list VMs: %w", err)
	}
	sizes := make(map[string]int, len(vms))
	for _, v := range vms {
		sizes[v.Name] = v.SizeGB
	}
	spec, _ := a.Spec()
	next, _ := a.Next()
	var policy events.CleanupPolicy
	a.mu.Lock()
	if a.fullSpec != nil {
		policy = a.fullSpec.Cleanup
	}
	a.mu.Unlock()
	wins, err := cleanup.ParseWindows(policy.Windows)
	if err != nil {
		return cleanup.Result{}, nil, fmt.Errorf("prune: spec cleanup windows: %w", err)
	}
	now := a.now()
	staged, retain, err := a.retention(ctx, now)
	if err != nil {
		return cleanup.Result{}, nil, fmt.Errorf("prune: %w", err)
	}
	if next == nil {
		// A staged spec the watch has not delivered yet: the history's.
		next = staged
	}
	return cleanup.Plan(cleanup.Input{
		Spec: spec, Policy: policy, VMs: vms,
		Releases: evaluate(spec, vms, nil, nil, now),
		Disk:     a.disk(a.cfg.TartHome), Now: now, Window: wins.State(now),
		PruneNow: req.Now, Only: req.VMs, Next: next, Retain: retain,
	}), sizes, nil
}

// retention returns the staged spec's images and the images still in their
// removal grace at now (events.Retained), both from the history of the spec
// keys, read when the bucket changed since the last prune (bus.SpecHistoryCache).
// Without NATS or a spec bucket there is neither (the local spec has no
// history). When the history cannot be read, the last one read stands in;
// with none, the prune fails rather than delete without the grace.
func (a *Agent) retention(ctx context.Context, now time.Time) (*events.ImageSpec, []events.RetainedImages, error) {
	if a.nc == nil {
		return nil, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, max(a.specRetry, 5*time.Second))
	defer cancel()
	js, err := jetstream.New(a.nc)
	if err != nil {
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	var hist []events.SpecRevision
	kv, err := a.specBucket(ctx, js)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, nil, nil
	case err == nil:
		if hist, err = a.specHist.Load(ctx, kv); err != nil {
			a.forgetSpecBucket(kv)
		}
	default:
		hist = a.specHist.Last()
	}
	if err != nil && hist == nil {
		return nil, nil, fmt.Errorf("read the spec history for the removal grace: %w", err)
	}
	if err != nil {
		a.log.Warn("cannot read the spec history; using the last one read", "err", err)
	}
	var next *events.ImageSpec
	if s := events.Latest(hist, events.NextSpecKey); s != nil {
		next = &s.Images
	}
	return next, events.Retained(hist, now), nil
}

// pruneOne deletes one planned VM (or, in a dry run, reports it planned).
func (a *Agent) pruneOne(ctx context.Context, d cleanup.Decision, dryRun bool) events.PruneOutcome {
	if dryRun {
		return a.outcome(d.VM, events.PrunePlanned, d.String(), true)
	}
	dctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	err := a.tart.Delete(dctx, d.VM)
	cancel()
	switch {
	case errors.Is(err, tart.ErrNotFound):
		return a.outcome(d.VM, events.PruneSkipped, events.PruneReasonGone, false)
	case err != nil:
		return a.outcome(d.VM, events.PruneFailed, err.Error(), false)
	}
	a.log.Info("pruned VM", "vm", d.VM, "reason", d.String())
	return a.outcome(d.VM, events.PruneDeleted, d.String(), false)
}

func (a *Agent) outcome(vm string, res events.PruneResult, reason string, dryRun bool) events.PruneOutcome {
	return events.PruneOutcome{Host: a.host, VM: vm, Result: res, Reason: reason, DryRun: dryRun, At: a.now().UTC()}
}

// publishOutcome publishes one prune outcome on <prefix>.prune.<host>.<result>.
func (a *Agent) publishOutcome(o events.PruneOutcome) events.PruneOutcome {
	if a.nc == nil {
		return o
	}
	subject := a.subj.Prune(a.host, o.Result)
	data, err := events.Encode(events.TypePrune, a.source, a.host, "", o.At, o)
	if err == nil {
		err = a.nc.Publish(subject, data)
	}
	if err != nil {
		a.log.Warn("cannot publish prune outcome", "vm", o.VM, "err", err)
	}
	return o
}
