package orchestrator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

type metrics struct {
	received       prometheus.CounterFunc
	duplicates     prometheus.CounterFunc
	unknownReasons prometheus.CounterFunc
	rejected       *prometheus.CounterVec
	rejectedBy     [numRejectReasons]prometheus.Counter
	hosts          *prometheus.GaugeVec
	reconcile      *prometheus.HistogramVec
	buildEvents    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, received, duplicates, unknownReasons func() float64) (*metrics, error) {
	const ns, sub = "vmfleet", "orchestrator"
	m := &metrics{
		received: prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_received_total", Help: "Health events received."}, received),
		duplicates: prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_duplicate_total", Help: "Health events received again (same boot and sequence): last-seen refreshed."}, duplicates),
		unknownReasons: prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "unknown_reasons_total", Help: "Release statuses in health events with a readiness reason this orchestrator does not know (a newer agent's), taken as not ready."}, unknownReasons),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_rejected_total", Help: "Health events dropped, by reason (decode, validate, host_mismatch, stale_seq, oversized, clock_skew)."}, []string{"reason"}),
		hosts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "hosts", Help: "Hosts by state (ready, not_ready, stale)."}, []string{"state"}),
		reconcile: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "reconcile_duration_seconds", Help: "Reconcile pass duration, by kind (full, dirty).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}, []string{"kind"}),
		buildEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "build_transitions_total", Help: "Build record state changes, by new state."}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.received, m.duplicates, m.unknownReasons, m.rejected, m.hosts, m.reconcile,
		m.buildEvents} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for r := range numRejectReasons {
		m.rejectedBy[r] = m.rejected.WithLabelValues(r.String())
	}
	// Every known label value is exported from the start, at zero.
	for _, st := range []string{"ready", "not_ready", "stale"} {
		m.hosts.WithLabelValues(st)
	}
	for _, kind := range []string{"full", "dirty"} {
		m.reconcile.WithLabelValues(kind)
	}
	for _, st := range []events.BuildState{events.BuildRequested, events.BuildScheduled, events.BuildRunning,
		events.BuildPassed, events.BuildFailed, events.BuildCanceled, events.BuildBlocked} {
		m.buildEvents.WithLabelValues(string(st))
	}
	return m, nil
}
