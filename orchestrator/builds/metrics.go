package builds

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// The record gauges, computed from the records at every scrape.
var (
	buildsDesc  = prometheus.NewDesc("vmfleet_orchestrator_builds", "Build records by state.", []string{"state"}, nil)
	blockedDesc = prometheus.NewDesc("vmfleet_orchestrator_blocked_keys",
		"Build keys blocked after max_attempts failures.", nil, nil)
	gaugeStates = []events.BuildState{
		events.BuildRequested, events.BuildScheduled, events.BuildRunning, events.BuildPassed,
		events.BuildFailed, events.BuildCanceled, events.BuildBlocked,
	}
)

// Collector exports the records by state (vmfleet_orchestrator_builds) and
// the blocked keys (vmfleet_orchestrator_blocked_keys), counted when
// scraped rather than on every reconcile pass.
func (m *Manager) Collector() prometheus.Collector { return collector{m} }

type collector struct{ m *Manager }

func (collector) Describe(ch chan<- *prometheus.Desc) { ch <- buildsDesc; ch <- blockedDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	by, blocked := c.m.Counts()
	for _, st := range gaugeStates {
		ch <- prometheus.MustNewConstMetric(buildsDesc, prometheus.GaugeValue, float64(by[st]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(blockedDesc, prometheus.GaugeValue, float64(blocked))
}
