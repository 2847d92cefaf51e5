package agentd

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
)

// metrics counts what the agent does. A nil *metrics counts nothing.
type metrics struct {
	checks     prometheus.Counter
	tartErrors prometheus.Counter
	publishes  *prometheus.CounterVec
	commands   *prometheus.CounterVec
	checkTime  prometheus.Histogram
	// specRejected counts KV specs that failed validation (the last good
	// spec stays in force).
	specRejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		checks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vmfleet_agent_checks_total", Help: "Health checks run (one tart list each).",
		}),
		tartErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vmfleet_agent_tart_errors_total", Help: "Checks whose tart list failed.",
		}),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmfleet_agent_publishes_total", Help: "Health events published, by result (ok, error).",
		}, []string{"result"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmfleet_agent_commands_total", Help: "Commands served, by verb and reply code (ok, bad_request, ...).",
		}, []string{"verb", "code"}),
		checkTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vmfleet_agent_check_seconds", Help: "Duration of a health check.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		specRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vmfleet_agent_spec_rejected_total", Help: "Specs read from KV that failed validation; the last good spec stays in force.",
		}),
	}
	for _, c := range []prometheus.Collector{m.checks, m.tartErrors, m.publishes, m.commands, m.checkTime, m.specRejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: register agent metrics: %v", ErrInvalidOption, err)
		}
	}
	// Every known label value is exported from the start, at zero.
	m.publishes.WithLabelValues("ok")
	m.publishes.WithLabelValues("error")
	for _, verb := range []string{events.VerbCheck, events.VerbPrune, events.VerbPull, events.VerbForce} {
		for _, code := range []string{"ok", events.CodeBadRequest, events.CodeBusy, events.CodeTartError, events.CodeInternal} {
			m.commands.WithLabelValues(verb, code)
		}
	}
	return m, nil
}

func (m *metrics) check(seconds float64, tartErr bool) {
	if m == nil {
		return
	}
	m.checks.Inc()
	m.checkTime.Observe(seconds)
	if tartErr {
		m.tartErrors.Inc()
	}
}

func (m *metrics) publish(err error) {
	if m == nil {
		return
	}
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.publishes.WithLabelValues(res).Inc()
}

func (m *metrics) command(verb, code string) {
	if m == nil {
		return
	}
	if code == "" {
		code = "ok"
	}
	m.commands.WithLabelValues(verb, code).Inc()
}

func (m *metrics) specReject() {
	if m == nil {
		return
	}
	m.specRejected.Inc()
}
