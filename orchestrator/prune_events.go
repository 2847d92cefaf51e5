package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// Sizes of the recent prune outcome logs.
const (
	recentPerHost = 32
	recentFleet   = 256
)

// outcomeLog keeps the latest prune outcomes, fleet-wide and per host, in
// ring buffers (since this orchestrator started).
type outcomeLog struct {
	mu     sync.Mutex
	fleet  ring
	byHost map[string]*ring
}

type ring struct {
	buf  []events.PruneOutcome
	next int
	size int
}

func (r *ring) add(o events.PruneOutcome) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, o)
		return
	}
	r.buf[r.next] = o
	r.next = (r.next + 1) % r.size
}

// list returns the outcomes, newest first.
func (r *ring) list() []events.PruneOutcome {
	out := make([]events.PruneOutcome, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	out = append(out, r.buf[:r.next]...)
	slices.Reverse(out)
	return out
}

func newOutcomeLog() *outcomeLog {
	return &outcomeLog{fleet: ring{size: recentFleet}, byHost: map[string]*ring{}}
}

func (l *outcomeLog) add(o events.PruneOutcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fleet.add(o)
	r := l.byHost[o.Host]
	if r == nil {
		r = &ring{size: recentPerHost}
		l.byHost[o.Host] = r
	}
	r.add(o)
}

func (l *outcomeLog) host(host string) []events.PruneOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.byHost[host]; r != nil {
		return r.list()
	}
	return nil
}

func (l *outcomeLog) all() []events.PruneOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fleet.list()
}

// pruneMetrics count prune commands and the agents' per-VM outcomes.
type pruneMetrics struct {
	commands *prometheus.CounterVec
	inFlight prometheus.GaugeFunc
	vms      *prometheus.CounterVec
	freed    prometheus.Counter
	budget   prometheus.Gauge
}

func newPruneMetrics(reg prometheus.Registerer, inFlight func() float64) (*pruneMetrics, error) {
	const ns, sub = "vmfleet", "orchestrator"
	m := &pruneMetrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "prunes_total", Help: "Prune commands finished, by result (ok: every VM gone; failed: an error, a failed delete or a VM the agent kept)."}, []string{"result"}),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "prunes_in_flight", Help: "Prune commands awaiting the agent's reply."}, inFlight),
		vms: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "pruned_vms_total", Help: "Per-VM prune outcomes published by agents, by result (deleted, skipped, failed, planned)."}, []string{"result"}),
		freed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "prune_freed_bytes_total", Help: "Estimated bytes freed by pruning: the deleted VMs' reported size on disk."}),
		budget: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "prune_budget_remaining", Help: "Hosts the disruption budget still lets be sent a window prune in the open window occurrence (outside a window: the budget of one)."}),
	}
	for _, c := range []prometheus.Collector{m.commands, m.inFlight, m.vms, m.freed, m.budget} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

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
	o.outcomes.add(out)
	o.observers.changed() // the dashboard shows recent prunes
	o.pruneMetrics.vms.WithLabelValues(string(out.Result)).Inc()
	if out.Result == events.PruneDeleted && !out.DryRun && out.SizeGB > 0 {
		o.pruneMetrics.freed.Add(float64(out.SizeGB) * 1e9)
	}
}

// pruneDone counts a finished prune command and wakes a pass.
func (o *Orchestrator) pruneDone(_ string, rep events.Reply, err error) {
	result := "ok"
	if pruneFailure(rep, err) != "" {
		result = "failed"
	}
	o.pruneMetrics.commands.WithLabelValues(result).Inc()
	o.Trigger()
}

// RecentPrunes returns the latest prune outcomes fleet-wide, newest first.
func (o *Orchestrator) RecentPrunes() []events.PruneOutcome { return o.outcomes.all() }
