package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/vmfleet/vmfleet/internal/buildinfo"
)

// newDaemonRegistry is the metrics registry of both daemons (`agent run`,
// `orchestrator`): the Go runtime (go_*) and process (process_*) collectors
// and vmfleet_build_info, beside each daemon's own metrics.
func newDaemonRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildinfo.Collector())
	return reg
}
