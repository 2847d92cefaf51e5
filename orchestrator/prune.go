package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
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
}

// hostPrune is the prune bookkeeping of one host.
type hostPrune struct {
	inFlight bool
	vms      []string // in flight, or last sent
	sentAt   time.Time
	// A new prune waits for a report at or after needSeq in boot needBoot
	// (the report that shows the last prune's effect): until then the
	// fleet state may still list VMs already deleted.
	needBoot string
	needSeq  uint64
	failures int
	nextTry  time.Time
	lastErr  string
	gen      uint64
}

// pruneSender sends one prune command and returns the agent's reply.
type pruneSender func(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error)

// pruneManager sends prune commands: at most one per host at a time, at most
// cfg.PruneConcurrency fleet-wide, none again to a host before it reported
// the effect of the last one, and none during a host's backoff after a
// failure (a command error, a failed delete, or a VM the agent refused).
type pruneManager struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	send   pruneSender
	onDone func(host string, rep events.Reply, err error)

	mu       sync.Mutex
	hosts    map[string]*hostPrune
	inFlight int
	gen      uint64
	wg       sync.WaitGroup
}

func newPruneManager(cfg Config, log *slog.Logger, now func() time.Time, send pruneSender) *pruneManager {
	return &pruneManager{
		cfg: cfg, log: log, now: now, send: send,
		onDone: func(string, events.Reply, error) {},
		hosts:  map[string]*hostPrune{},
	}
}

// dispatch starts the prunes wants ask for, within the caps. A full pass
// also forgets hosts that want nothing and owe nothing (no backoff running).
func (p *pruneManager) dispatch(ctx context.Context, wants []pruneWant, full bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if full {
		p.gen++
	}
	for _, w := range wants {
		st := p.hostLocked(w.host)
		st.gen = p.gen
		if !p.mayStartLocked(st, w.boot, w.seq, now) || p.inFlight >= p.cfg.PruneConcurrency {
			continue
		}
		p.startLocked(st, w.vms, now)
		req := events.PruneRequest{VMs: w.vms, Reason: w.reason, DiskEmergency: w.reason == events.PruneReasonEmergency}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.log.Info("pruning VMs", "host", w.host, "vms", w.vms, "why", w.why, "reason", w.reason)
			rep, err := p.send(ctx, w.host, req)
			p.finish(w.host, w.boot, w.seq, rep, err)
		}()
	}
	if full {
		for h, st := range p.hosts {
			if st.gen != p.gen && !st.inFlight && !now.Before(st.nextTry) {
				delete(p.hosts, h)
			}
		}
	}
}

func (p *pruneManager) hostLocked(host string) *hostPrune {
	st := p.hosts[host]
	if st == nil {
		st = &hostPrune{gen: p.gen}
		p.hosts[host] = st
	}
	return st
}

// mayStartLocked: nothing in flight, no backoff running, and the report
// (boot, seq) shows the last prune's effect.
func (p *pruneManager) mayStartLocked(st *hostPrune, boot string, seq uint64, now time.Time) bool {
	switch {
	case st.inFlight, now.Before(st.nextTry):
		return false
	case st.needBoot != "" && boot == st.needBoot && seq < st.needSeq:
		return false
	}
	return true
}

func (p *pruneManager) startLocked(st *hostPrune, vms []string, now time.Time) {
	st.inFlight, st.vms, st.sentAt = true, slices.Clone(vms), now
	p.inFlight++
}

// run sends an operator's prune at once (no cap, no backoff, no wait for a
// newer report) unless one is in flight to the host; it waits for the reply.
func (p *pruneManager) run(ctx context.Context, host, boot string, seq uint64, req events.PruneRequest) (events.Reply, error) {
	p.mu.Lock()
	st := p.hostLocked(host)
	if st.inFlight {
		p.mu.Unlock()
		return events.Reply{}, fmt.Errorf("%w: %s since %s", ErrPruneInFlight, host, st.sentAt.UTC().Format(time.RFC3339))
	}
	p.startLocked(st, req.VMs, p.now())
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	p.log.Info("pruning VMs (operator)", "host", host, "vms", req.VMs, "dry_run", req.DryRun, "now", req.Now)
	rep, err := p.send(ctx, host, req)
	if req.DryRun && err == nil {
		// A dry run changed nothing: it neither delays nor backs off the
		// reconciler's prunes.
		p.mu.Lock()
		st.inFlight = false
		p.inFlight--
		p.mu.Unlock()
		return rep, nil
	}
	p.finish(host, boot, seq, rep, err)
	return rep, err
}

// finish records a prune's end: which report a next prune waits for, and the
// backoff after a failure.
func (p *pruneManager) finish(host, boot string, seq uint64, rep events.Reply, err error) {
	now := p.now()
	failed := pruneFailure(rep, err)
	p.mu.Lock()
	st := p.hostLocked(host)
	st.inFlight = false
	p.inFlight--
	switch {
	case rep.Health != nil:
		st.needBoot, st.needSeq = rep.Health.BootID, rep.Health.Seq
	case err != nil || len(rep.Prune) > 0:
		// No reply, or outcomes without the check after them: the agent
		// may have deleted something; wait for its next report.
		st.needBoot, st.needSeq = boot, seq+1
	}
	if failed != "" {
		st.failures++
		st.nextTry = now.Add(backoff(p.cfg.BackoffBase, p.cfg.BackoffMax, st.failures))
		st.lastErr = failed
	} else {
		st.failures, st.nextTry, st.lastErr = 0, time.Time{}, ""
	}
	retryAt := st.nextTry
	p.mu.Unlock()
	if failed != "" && !errors.Is(err, context.Canceled) {
		p.log.Warn("prune incomplete; backing off", "host", host, "why", failed, "retry_at", retryAt)
	}
	p.onDone(host, rep, err)
}

// pruneFailure says why a prune counts as failed, or "" when every requested
// VM is gone: a command error, a failed delete, or a VM the agent kept.
func pruneFailure(rep events.Reply, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case !rep.OK:
		return fmt.Sprintf("%s (%s)", rep.Error, rep.Code)
	}
	for _, o := range rep.Prune {
		switch {
		case o.Result == events.PruneFailed:
			return fmt.Sprintf("delete %s: %s", o.VM, o.Reason)
		case o.Result == events.PruneSkipped && o.Reason != events.PruneReasonGone:
			return fmt.Sprintf("%s kept by the agent: %s", o.VM, o.Reason)
		}
	}
	return ""
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
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.hosts[host]
	if st == nil {
		return PruneStatus{}
	}
	return PruneStatus{InFlight: st.inFlight, VMs: slices.Clone(st.vms), SentAt: st.sentAt,
		Failures: st.failures, NextTry: st.nextTry, Error: st.lastErr}
}

func (p *pruneManager) inFlightCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

func (p *pruneManager) wait() { p.wg.Wait() }

// sendPrune sends a prune command to a host and waits for its reply. An
// agent's error reply comes back as the reply, with a nil error.
func (o *Orchestrator) sendPrune(ctx context.Context, host string, req events.PruneRequest) (events.Reply, error) {
	if o.nc == nil {
		return events.Reply{}, ErrNoNATS
	}
	data, err := events.Encode(events.CommandType(events.VerbPrune), o.opts.source, host, "", o.now(), req)
	if err != nil {
		return events.Reply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.PruneTimeout)
	defer cancel()
	msg, err := o.nc.RequestWithContext(ctx, o.subj.Command(host, events.VerbPrune), data)
	if err != nil {
		return events.Reply{}, fmt.Errorf("prune on %s: %w", host, err)
	}
	rep, err := decodeReply(msg.Data)
	if err != nil {
		return events.Reply{}, fmt.Errorf("prune on %s: bad reply: %w", host, err)
	}
	return rep, nil
}
