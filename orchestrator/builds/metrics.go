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
}

var gaugeStates = []events.BuildState{
	events.BuildRequested, events.BuildScheduled, events.BuildRunning, events.BuildPassed,
	events.BuildFailed, events.BuildCanceled, events.BuildBlocked,
}

// RegisterGauges registers the record gauges on reg; UpdateGauges sets them.
func (m *Manager) RegisterGauges(reg prometheus.Registerer) error {
	const ns, sub = "vmfleet", "orchestrator"
	m.gauges = &gauges{
		byState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "builds", Help: "Build records by state."}, []string{"state"}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "blocked_keys", Help: "Build keys blocked after max_attempts failures."}),
	}
	for _, c := range []prometheus.Collector{m.gauges.byState, m.gauges.blocked} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
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
