package orchestrator

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// followPrunes records the agents' prune outcomes (<prefix>.prune.<host>.<result>)
// for the API and the metrics, whoever asked for the prune.
func (o *Orchestrator) followPrunes(ctx context.Context) error {
	ch := make(chan *nats.Msg, 256)
	subject := o.subj.Prune("*", "*")
	sub, err := o.nc.ChanSubscribe(subject, ch)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			o.recordOutcome(m.Subject, m.Data)
		}
	}
}

func (o *Orchestrator) recordOutcome(subject string, data []byte) {
	env, err := events.Decode(data)
	var out events.PruneOutcome
	if err == nil {
		out, err = events.DecodeData[events.PruneOutcome](env, events.TypePrune)
	}
	if err == nil && subject != o.subj.Prune(out.Host, out.Result) {
		err = fmt.Errorf("payload host %q and result %q do not match subject %q", out.Host, out.Result, subject)
	}
	if err != nil {
		if o.rejectLog.Allow("prune:"+subject, o.now()) {
			o.log.Warn("prune outcome rejected", "subject", subject, "err", err)
		}
		return
	}
	o.outcomes.Add(out)
	o.observers.changed() // the dashboard shows recent prunes
	o.pruneMetrics.VMs.WithLabelValues(string(out.Result)).Inc()
	if out.Result == events.PruneDeleted && !out.DryRun && out.SizeGB > 0 {
		o.pruneMetrics.Freed.Add(float64(out.SizeGB) * 1e9)
	}
}

// pruneDone counts a finished prune command and wakes a pass.
func (o *Orchestrator) pruneDone(_ string, rep events.Reply, err error) {
	result := "ok"
	if prunes.Failure(rep, err) != "" {
		result = "failed"
	}
	o.pruneMetrics.Commands.WithLabelValues(result).Inc()
	o.Trigger()
}

// RecentPrunes returns the latest prune outcomes fleet-wide, newest first.
func (o *Orchestrator) RecentPrunes() []events.PruneOutcome { return o.outcomes.All() }
