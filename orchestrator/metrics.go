package orchestrator

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/buildinfo"
)

// metrics are the core's own; package hosts registers the ingest's.
type metrics struct {
	hosts       *prometheus.GaugeVec
	reconcile   *prometheus.HistogramVec
	buildEvents *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "vmfleet", "orchestrator"
	m := &metrics{
		hosts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "hosts", Help: "Hosts by state (ready, not_ready, stale)."}, []string{"state"}),
		reconcile: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "reconcile_duration_seconds", Help: "Reconcile pass duration, by kind (full, dirty).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}, []string{"kind"}),
		buildEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "build_transitions_total", Help: "Build record state changes, by new state."}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.hosts, m.reconcile, m.buildEvents} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// vmfleet_build_info on every orchestrator's registry, its own (the
	// demo's, the tests') too; the daemon's registry has it already.
	if err := reg.Register(buildinfo.Collector()); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil, err
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
