package orchestrator

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// cleanupParts is the orchestrator's pruning and spec-setting state
// (prune*.go, spec_set.go), embedded in Orchestrator.
type cleanupParts struct {
	prunes       *pruneManager
	outcomes     *prunes.OutcomeLog
	pruneMetrics *prunes.Metrics
	pruneWins    atomic.Pointer[prunes.Windows]
	// Owned by the loop goroutine.
	plans *prunes.Plans
	// specKV is bucket vmfleet_spec, set by Run before started.
	specKV jetstream.KeyValue
	// specHist is the spec keys' history (prune_grace.go), nil until read.
	specHist    atomic.Pointer[prunes.History]
	histCache   bus.SpecHistoryCache
	specChanges rollout.ChangeLog // specHist as changes (spec_history.go)
	// Owned by the loop goroutine: the disruption budget, and the
	// non-stale hosts the last summary counted.
	budget        prunes.Budget
	nonStaleHosts int
}

// initCleanup makes the pruning parts; New calls it once the config, the
// clock and the registry are set.
func (o *Orchestrator) initCleanup() error {
	o.prunes = newPruneManager(o.cfg, o.log, o.now, o.sendPrune)
	o.prunes.onDone = o.pruneDone
	o.outcomes = prunes.NewOutcomeLog()
	o.plans = prunes.NewPlans()
	var err error
	o.pruneMetrics, err = prunes.NewMetrics(o.reg, func() float64 { return float64(o.prunes.InFlight()) })
	if err != nil {
		return fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	return nil
}

// PruneHostRequest is POST /api/v1/hosts/{host}/prune: an operator's
// `vmfleet prune --host H`.
type PruneHostRequest struct {
	// DryRun: the agent reports what it would delete, deleting nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Now prunes outside the cleanup windows (`--now`).
	Now bool `json:"now,omitempty"`
	// VMs, when set, restricts the prune to these names.
	VMs []string `json:"vms,omitempty"`
}

// PruneHostResponse is the answer: the orchestrator's plan and, when it
// pruned something, the agent's outcome for every VM it was asked about.
type PruneHostResponse struct {
	Host   string              `json:"host"`
	Plan   cleanup.Result      `json:"plan"`
	Window cleanup.WindowState `json:"window"`
	// Sent: a prune command went to the agent (the plan pruned something).
	Sent     bool                  `json:"sent"`
	Outcomes []events.PruneOutcome `json:"outcomes,omitempty"`
	// Error and Code are the agent's, when its reply was not OK.
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// PruneHost plans a host's prune now, from its last report, and sends it
// when the plan prunes something; it waits for the agent's reply. Outside a
// cleanup window only req.Now (or a disk emergency) lets anything go.
func (o *Orchestrator) PruneHost(ctx context.Context, host string, req PruneHostRequest) (PruneHostResponse, error) {
	switch {
	case !o.started.Load():
		return PruneHostResponse{}, ErrStarting
	case !o.opts.isLeader():
		return PruneHostResponse{}, ErrNotLeader
	}
	for i, n := range req.VMs {
		if err := events.ValidateVMName(n); err != nil {
			return PruneHostResponse{}, &events.FieldError{Field: fmt.Sprintf("vms[%d]", i), Reason: err.Error()}
		}
	}
	hs := o.fleet.get(host)
	now := o.now()
	switch {
	case hs == nil:
		return PruneHostResponse{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
	case o.fleet.stale(hs, now):
		return PruneHostResponse{}, fmt.Errorf("%w: %s was last seen %s", ErrHostStale, host, hs.lastSeen.UTC().Format("2006-01-02T15:04:05Z"))
	}
	pv := o.pruneView(now)
	in := prunes.Input(hs.h, &pv)
	in.PruneNow = req.Now
	if len(req.VMs) > 0 {
		in.Only = req.VMs
	}
	resp := PruneHostResponse{Host: host, Plan: cleanup.Plan(in), Window: pv.Window}
	if len(resp.Plan.Prune) == 0 {
		return resp, nil
	}
	preq := events.PruneRequest{VMs: resp.Plan.PruneNames(), Reason: events.PruneReasonOperator, DryRun: req.DryRun,
		Now: req.Now, DiskEmergency: resp.Plan.DiskEmergency}
	rep, err := o.prunes.run(ctx, host, hs.h.BootID, hs.h.Seq, preq)
	if err != nil {
		return resp, err
	}
	resp.Sent, resp.Outcomes = true, rep.Prune
	if !rep.OK {
		resp.Error, resp.Code = rep.Error, rep.Code
	}
	return resp, nil
}
