package prunes

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// Metrics count prune commands and the agents' per-VM outcomes.
type Metrics struct {
	Commands *prometheus.CounterVec
	inFlight prometheus.GaugeFunc
	VMs      *prometheus.CounterVec
	Freed    prometheus.Counter
	Budget   prometheus.Gauge
}

// NewMetrics registers the metrics on reg; inFlight counts the prune
// commands awaiting a reply.
func NewMetrics(reg prometheus.Registerer, inFlight func() float64) (*Metrics, error) {
	const ns, sub = "vmfleet", "orchestrator"
	m := &Metrics{
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "prunes_total", Help: "Prune commands finished, by result (ok: every VM gone; failed: an error, a failed delete or a VM the agent kept)."}, []string{"result"}),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "prunes_in_flight", Help: "Prune commands awaiting the agent's reply."}, inFlight),
		VMs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "pruned_vms_total", Help: "Per-VM prune outcomes published by agents, by result (deleted, skipped, failed, planned)."}, []string{"result"}),
		Freed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "prune_freed_bytes_total", Help: "Estimated bytes freed by pruning: the deleted VMs' reported size on disk."}),
		Budget: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "prune_budget_remaining", Help: "Hosts the disruption budget still lets be sent a window prune in the open window occurrence (outside a window: the budget of one)."}),
	}
	for _, c := range []prometheus.Collector{m.Commands, m.inFlight, m.VMs, m.Freed, m.Budget} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every known label value is exported from the start, at zero.
	m.Commands.WithLabelValues("ok")
	m.Commands.WithLabelValues("failed")
	for _, r := range []events.PruneResult{events.PruneDeleted, events.PruneSkipped, events.PruneFailed, events.PrunePlanned} {
		m.VMs.WithLabelValues(string(r))
	}
	return m, nil
}
