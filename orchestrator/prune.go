package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// pruneWant is a prune the reconcile pass asks for: the exact names its plan
// pruned, from the health report (boot, seq) it planned with.
type pruneWant struct {
	host   string
	vms    []string
	why    []string // each VM's candidate reason, for the log
	reason string
	boot   string
	seq    uint64
	// budgeted: a window prune, counted by the disruption budget (a disk
	// emergency's is not).
	budgeted bool
}

// pruneSender sends one prune command and returns the agent's reply.
type pruneSender func(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error)

// pruneManager sends prune commands (a hostcmd.Dispatcher keyed by host): at
// most one per host at a time, at most cfg.PruneConcurrency fleet-wide, none
// again to a host before it reported the effect of the last one, and none
// during a host's backoff after a failure (a command error, a failed delete,
// or a VM the agent refused).
type pruneManager struct {
	*hostcmd.Dispatcher[pruneWant, events.Reply]
	log    *slog.Logger
	send   pruneSender
	onDone func(host string, rep events.Reply, err error)
}

func newPruneManager(cfg Config, log *slog.Logger, now func() time.Time, send pruneSender) *pruneManager {
	p := &pruneManager{log: log, send: send, onDone: func(string, events.Reply, error) {}}
	p.Dispatcher = hostcmd.New(hostcmd.Verb[pruneWant, events.Reply]{
		Cap:     cfg.PruneConcurrency,
		Backoff: func(n int) time.Duration { return backoff.Exponential(cfg.BackoffBase, cfg.BackoffMax, n) },
		Now:     now,
		Key:     func(w pruneWant) string { return w.host },
		From:    func(w pruneWant) hostcmd.Report { return hostcmd.Report{Boot: w.boot, Seq: w.seq} },
		Send: func(ctx context.Context, w pruneWant) (events.Reply, error) {
			req := events.PruneRequest{VMs: w.vms, Reason: w.reason, DiskEmergency: w.reason == events.PruneReasonEmergency}
			log.Info("pruning VMs", "host", w.host, "vms", w.vms, "why", w.why, "reason", w.reason)
			return send(ctx, w.host, req)
		},
		Finish: pruneOutcome,
		Done: func(w pruneWant, rep events.Reply, err error, out hostcmd.Outcome, retryAt time.Time) {
			if out.Failure != "" && !errors.Is(err, context.Canceled) {
				log.Warn("prune incomplete; backing off", "host", w.host, "why", out.Failure, "retry_at", retryAt)
			}
			p.onDone(w.host, rep, err)
		},
		// A host that wants nothing is forgotten only once it owes
		// nothing: its backoff ended.
		KeepBackoff: true,
	})
	return p
}

// pruneOutcome is what a finished prune means: which report a next prune
// waits for (the one that shows this prune's effect: until then the fleet
// state may still list VMs already deleted), and whether it failed.
func pruneOutcome(w pruneWant, rep events.Reply, err error) hostcmd.Outcome {
	out := hostcmd.Outcome{Failure: prunes.Failure(rep, err)}
	switch {
	case rep.Health != nil:
		out.Wait, out.SetWait = hostcmd.AtOrAfter(hostcmd.Report{Boot: rep.Health.BootID, Seq: rep.Health.Seq}), true
	case err != nil || len(rep.Prune) > 0:
		// No reply, or outcomes without the check after them: the agent
		// may have deleted something; wait for its next report.
		out.Wait, out.SetWait = hostcmd.After(hostcmd.Report{Boot: w.boot, Seq: w.seq}), true
	}
	return out
}

// run sends an operator's prune at once (no cap, no backoff, no wait for a
// newer report) unless one is in flight to the host; it waits for the reply.
// A dry run changed nothing: when it succeeded it neither delays nor backs
// off the reconciler's prunes.
func (p *pruneManager) run(ctx context.Context, host, boot string, seq uint64, req events.PruneRequest) (events.Reply, error) {
	w := pruneWant{host: host, vms: req.VMs, reason: req.Reason, boot: boot, seq: seq}
	rep, err := p.Run(ctx, w, req.DryRun, func(ctx context.Context) (events.Reply, error) {
		p.log.Info("pruning VMs (operator)", "host", host, "vms", req.VMs, "dry_run", req.DryRun, "now", req.Now)
		return p.send(ctx, host, req)
	})
	if busy, ok := errors.AsType[*hostcmd.BusyError](err); ok {
		return events.Reply{}, fmt.Errorf("%w: %s since %s", ErrPruneInFlight, host, busy.Since.UTC().Format(time.RFC3339))
	}
	return rep, err
}

// PruneStatus is a host's prune bookkeeping in the API.
type PruneStatus struct {
	InFlight bool      `json:"in_flight"`
	VMs      []string  `json:"vms,omitempty"` // in flight, or last sent
	SentAt   time.Time `json:"sent_at,omitzero"`
	Failures int       `json:"failures,omitempty"`
	NextTry  time.Time `json:"next_try,omitzero"`
	Error    string    `json:"error,omitempty"`
}

func (p *pruneManager) status(host string) PruneStatus {
	st, ok := p.Status(host)
	if !ok {
		return PruneStatus{}
	}
	return PruneStatus{InFlight: st.InFlight, VMs: slices.Clone(st.Sent.vms), SentAt: st.SentAt,
		Failures: st.Failures, NextTry: st.NextTry, Error: st.Err}
}

// sendPrune sends a prune command to a host and waits for its reply. An
// agent's error reply comes back as the reply, with a nil error.
func (o *Orchestrator) sendPrune(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error) {
	rep, err := o.commands().Send(ctx, hostcmd.Command{Verb: events.VerbPrune, Host: host, Name: "prune",
		Req: req, Timeout: o.cfg.PruneTimeout})
	if _, ok := errors.AsType[*hostcmd.AgentError](err); ok {
		return rep, nil
	}
	return rep, err
}
