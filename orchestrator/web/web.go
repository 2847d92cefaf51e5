package web

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/internal/ratelog"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// Server serves one orchestrator over HTTP. Make it with New, serve Handler
// and run Run for the life of the orchestrator (the dashboard's live
// updates).
type Server struct {
	o        *orchestrator.Orchestrator
	cfg      orchestrator.Config // the tokens and webhook credentials
	hub      *hub
	webhooks *prometheus.CounterVec

	rejectLog ratelog.Limiter
	replays   replayCache
}

// New makes the HTTP face of o. Its metrics (webhooks, events clients) are
// registered on o's registry; the tokens and webhook credentials are o's
// Config's.
func New(o *orchestrator.Orchestrator) (*Server, error) {
	s := &Server{o: o, cfg: o.Config(), replays: replayCache{seen: map[string]time.Time{}}}
	const ns, sub = "vmfleet", "orchestrator"
	s.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "webhooks_total", Help: "Buildkite webhooks, by result (accepted, ignored, unauthorized, stale, replay, bad_request)."}, []string{"result"})
	if err := o.Registry().Register(s.webhooks); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", orchestrator.ErrInvalidOption, err)
	}
	for _, r := range []string{"accepted", "ignored", "unauthorized", "stale", "replay", "bad_request"} {
		s.webhooks.WithLabelValues(r) // exported from the start, at zero
	}
	var err error
	if s.hub, err = newHub(s, o.Registry()); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", orchestrator.ErrInvalidOption, err)
	}
	o.OnChange(s.hub.poke)
	return s, nil
}

// Run derives and sends the dashboard's live updates until ctx ends, then
// ends every event stream.
func (s *Server) Run(ctx context.Context) error { return s.hub.run(ctx) }
