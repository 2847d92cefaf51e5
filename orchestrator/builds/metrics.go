package builds

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// gauges are the record gauges: vmfleet_orchestrator_builds by state and
// vmfleet_orchestrator_blocked_keys.
type gauges struct {
	byState *prometheus.GaugeVec
	blocked prometheus.Gauge
	// cancelled is vmfleet_orchestrator_builds_cancelled_total: cancels
	// Buildkite accepted, by Record.Cancel.
	cancelled *prometheus.CounterVec
}

var gaugeStates = []events.BuildState{
	events.BuildRequested, events.BuildScheduled, events.BuildRunning, events.BuildPassed,
	events.BuildFailed, events.BuildCanceled, events.BuildBlocked,
}

// RegisterGauges registers the record gauges on reg (UpdateGauges sets
// them) and the counter of cancels Buildkite accepted.
func (m *Manager) RegisterGauges(reg prometheus.Registerer) error {
	const ns, sub = "vmfleet", "orchestrator"
	m.gauges = &gauges{
		byState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "builds", Help: "Build records by state."}, []string{"state"}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "blocked_keys", Help: "Build keys blocked after max_attempts failures."}),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "builds_cancelled_total", Help: "Builds cancelled on Buildkite by vmfleet, by reason (obsolete: no active spec wants the image)."}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.gauges.byState, m.gauges.blocked, m.gauges.cancelled} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	m.gauges.cancelled.WithLabelValues(ReasonObsolete)
	for _, st := range gaugeStates { // every state exported from the start, at zero
		m.gauges.byState.WithLabelValues(string(st))
	}
	cancelled := m.gauges.cancelled
	m.onCancel = func(r *Record) { cancelled.WithLabelValues(r.Cancel).Inc() }
	return nil
}

// UpdateGauges sets the record gauges from the records (the orchestrator's
// readiness summary calls it).
func (m *Manager) UpdateGauges() {
	by, blocked := m.Counts()
	for _, st := range gaugeStates {
		m.gauges.byState.WithLabelValues(string(st)).Set(float64(by[st]))
	}
	m.gauges.blocked.Set(float64(blocked))
}
