package prunes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// Want is a prune the reconcile pass asks for: the exact names its plan
// pruned, from the health report (Boot, Seq) it planned with.
type Want struct {
	Host   string
	VMs    []string
	Why    []string // each VM's candidate reason, for the log
	Reason string
	Boot   string
	Seq    uint64
	// Budgeted: a window prune, counted by the disruption budget (a disk
	// emergency's is not).
	Budgeted bool
}

// Sender sends one prune command and returns the agent's reply.
type Sender func(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error)

// newDispatcher is the Manager's prune commands: at most one per host at a
// time, at most Concurrency fleet-wide, none again to a host before it
// reported the effect of the last one, and none during a host's backoff
// after a failure (a command error, a failed delete, or a VM the agent
// refused).
func newDispatcher(m *Manager) *hostcmd.Dispatcher[Want, events.Reply] {
	return hostcmd.New(hostcmd.Verb[Want, events.Reply]{
		Cap:     m.cfg.Concurrency,
		Backoff: func(n int) time.Duration { return backoff.Exponential(m.cfg.BackoffBase, m.cfg.BackoffMax, n) },
		Now:     m.deps.Now,
		Key:     func(w Want) string { return w.Host },
		From:    func(w Want) hostcmd.Report { return hostcmd.Report{Boot: w.Boot, Seq: w.Seq} },
		Send: func(ctx context.Context, w Want) (events.Reply, error) {
			req := events.PruneRequest{VMs: w.VMs, Reason: w.Reason, DiskEmergency: w.Reason == events.PruneReasonEmergency}
			m.log.Info("pruning VMs", "host", w.Host, "vms", w.VMs, "why", w.Why, "reason", w.Reason)
			return m.send(ctx, w.Host, req)
		},
		Finish: outcome,
		Done: func(w Want, rep events.Reply, err error, out hostcmd.Outcome, retryAt time.Time) {
			if out.Failure != "" && !errors.Is(err, context.Canceled) {
				m.log.Warn("prune incomplete; backing off", "host", w.Host, "why", out.Failure, "retry_at", retryAt)
			}
			m.done(rep, err)
		},
		// A host that wants nothing is forgotten only once it owes
		// nothing: its backoff ended.
		KeepBackoff: true,
	})
}

// outcome is what a finished prune means: which report a next prune
// waits for (the one that shows this prune's effect: until then the fleet
// state may still list VMs already deleted), and whether it failed.
func outcome(w Want, rep events.Reply, err error) hostcmd.Outcome {
	out := hostcmd.Outcome{Failure: Failure(rep, err)}
	switch {
	case rep.Health != nil:
		out.Wait, out.SetWait = hostcmd.AtOrAfter(hostcmd.Report{Boot: rep.Health.BootID, Seq: rep.Health.Seq}), true
	case err != nil || len(rep.Prune) > 0:
		// No reply, or outcomes without the check after them: the agent
		// may have deleted something; wait for its next report.
		out.Wait, out.SetWait = hostcmd.After(hostcmd.Report{Boot: w.Boot, Seq: w.Seq}), true
	}
	return out
}

// done counts a finished prune command and wakes a pass.
func (m *Manager) done(rep events.Reply, err error) {
	result := "ok"
	if Failure(rep, err) != "" {
		result = "failed"
	}
	m.metrics.Commands.WithLabelValues(result).Inc()
	m.deps.Wake()
}

// run sends an operator's prune at once (no cap, no backoff, no wait for a
// newer report) unless one is in flight to the host; it waits for the reply.
// A dry run changed nothing: when it succeeded it neither delays nor backs
// off the reconciler's prunes.
func (m *Manager) run(ctx context.Context, host, boot string, seq uint64, req events.PruneRequest) (events.Reply, error) {
	w := Want{Host: host, VMs: req.VMs, Reason: req.Reason, Boot: boot, Seq: seq}
	rep, err := m.disp.Run(ctx, w, req.DryRun, func(ctx context.Context) (events.Reply, error) {
		m.log.Info("pruning VMs (operator)", "host", host, "vms", req.VMs, "dry_run", req.DryRun, "now", req.Now)
		return m.send(ctx, host, req)
	})
	if busy, ok := errors.AsType[*hostcmd.BusyError](err); ok {
		return events.Reply{}, fmt.Errorf("%w: %s since %s", ErrPruneInFlight, host, busy.Since.UTC().Format(time.RFC3339))
	}
	return rep, err
}

// Status is a host's prune bookkeeping in the API.
type Status struct {
	InFlight bool      `json:"in_flight"`
	VMs      []string  `json:"vms,omitempty"` // in flight, or last sent
	SentAt   time.Time `json:"sent_at,omitzero"`
	Failures int       `json:"failures,omitempty"`
	NextTry  time.Time `json:"next_try,omitzero"`
	Error    string    `json:"error,omitempty"`
}

func (m *Manager) status(host string) Status {
	st, ok := m.disp.Status(host)
	if !ok {
		return Status{}
	}
	return Status{InFlight: st.InFlight, VMs: slices.Clone(st.Sent.VMs), SentAt: st.SentAt,
		Failures: st.Failures, NextTry: st.NextTry, Error: st.Err}
}

// sendVia sends a prune command with the Client and waits for its reply. An
// agent's error reply comes back as the reply, with a nil error.
func (m *Manager) sendVia(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error) {
	rep, err := m.deps.Client.Send(ctx, hostcmd.Command{Verb: events.VerbPrune, Host: host, Name: "prune",
		Req: req, Timeout: m.cfg.Timeout})
	if _, ok := errors.AsType[*hostcmd.AgentError](err); ok {
		return rep, nil
	}
	return rep, err
}
