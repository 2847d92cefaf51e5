package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// BuildkiteAgents is what the drift check and the pause lever ask of
// Buildkite; *buildkite.Client implements it. Listing needs a token with
// read_agents, pausing write_agents.
type BuildkiteAgents interface {
	// ListAgents lists the organization's connected agents, every page.
	ListAgents(ctx context.Context) ([]buildkite.AgentInfo, error)
	// PauseAgent pauses one agent for timeout; buildkite.ErrAgentAlreadyPaused when it is.
	PauseAgent(ctx context.Context, id, note string, timeout time.Duration) error
	// ResumeAgent resumes one agent; buildkite.ErrAgentNotPaused when it is not paused.
	ResumeAgent(ctx context.Context, id string) error
}

// tagHost is the agent tag naming its vmfleet host.
const tagHost = events.TagKeyHost

// maxAgentCallsPerPass bounds pause and resume calls in one pass, so a
// fleet-wide flip stays inside Buildkite's REST rate limit; the rest follow
// in the next passes.
const maxAgentCallsPerPass = 50

// agentsManager is the drift check and the pause lever (docs/routing.md): every
// AgentsInterval the leader lists Buildkite's agents, matches them to hosts,
// flags hosts whose tags disagree with their report for longer than
// DriftGrace, and pauses the agents of hosts ready for no release.
type agentsManager struct {
	api BuildkiteAgents
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	drift  map[string]*driftRec  // host → an open disagreement
	paused map[string]pauseRec   // agent ID → a pause this leader made
	hosts  map[string]bool       // host → its agents are paused by us
	active bool                  // the previous pass ran as the leader
	lastRL time.Time             // last rate-limit log line
	pub    func(events.TagDrift) // publishes a drift event

	driftGauge  prometheus.Gauge
	pausedGauge prometheus.Gauge
	actions     *prometheus.CounterVec
}

func newAgentsManager(api BuildkiteAgents, cfg Config, log *slog.Logger, reg prometheus.Registerer, pub func(events.TagDrift)) (*agentsManager, error) {
	m := &agentsManager{api: api, cfg: cfg, log: log, pub: pub,
		drift: map[string]*driftRec{}, paused: map[string]pauseRec{}, hosts: map[string]bool{},
		driftGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vmfleet", Name: "tag_drift_hosts",
			Help: "Hosts whose Buildkite agent tags have disagreed with their report for longer than the drift grace."}),
		pausedGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vmfleet", Subsystem: "orchestrator", Name: "paused_agents",
			Help: "Buildkite agents the pause lever holds paused."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vmfleet", Subsystem: "orchestrator", Name: "agent_actions_total",
			Help: "Pause lever calls to Buildkite, by action (pause, resume) and result (ok, error)."}, []string{"action", "result"}),
	}
	for _, c := range []prometheus.Collector{m.driftGauge, m.pausedGauge, m.actions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// hostMatch is one host with its Buildkite agents.
type hostMatch struct {
	host   string
	hs     *hostState
	stale  bool
	agents []buildkite.AgentInfo
}

// runAgents lists agents every AgentsInterval until ctx ends.
func (o *Orchestrator) runAgents(ctx context.Context) error {
	if o.agents == nil {
		return nil
	}
	t := time.NewTicker(o.cfg.AgentsInterval)
	defer t.Stop()
	for {
		o.agentsPass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// agentsPass is one drift check and pause pass. Only the leader, once caught
// up, asks Buildkite; a follower forgets what it knew.
func (o *Orchestrator) agentsPass(ctx context.Context) {
	m := o.agents
	if !o.opts.isLeader() || !o.caughtUp.Load() {
		m.reset()
		return
	}
	m.mu.Lock()
	m.active = true
	m.mu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, max(o.cfg.AgentsInterval, time.Minute))
	defer cancel()
	// Calls end the moment the term does (the lease is lost mid-pass).
	o.term.mu.Lock()
	tctx := o.term.ctx
	o.term.mu.Unlock()
	if tctx != nil {
		defer context.AfterFunc(tctx, cancel)()
	}
	list, err := m.api.ListAgents(lctx)
	if err != nil {
		m.apiError("list Buildkite agents", err, o.now())
		return
	}
	now := o.now()
	matches := o.matchAgents(list, now)
	m.checkDrift(matches, now)
	if o.cfg.Pause {
		m.pausePass(lctx, matches, now)
	}
}

// matchAgents gives every known host its agents: by the vmfleet-host tag,
// else by hostname (the host's reported hostname or its token, ignoring case).
func (o *Orchestrator) matchAgents(list []buildkite.AgentInfo, now time.Time) []*hostMatch {
	var all []*hostMatch
	o.fleet.each(func(host string, hs *hostState) { all = append(all, &hostMatch{host: host, hs: hs}) })
	slices.SortFunc(all, func(a, b *hostMatch) int { return strings.Compare(a.host, b.host) })
	byHost := make(map[string]*hostMatch, len(all))
	byName := make(map[string]*hostMatch, 2*len(all))
	for _, hm := range all {
		hm.stale = o.fleet.stale(hm.hs, now)
		byHost[hm.host] = hm
		byName[strings.ToLower(hm.host)] = hm
	}
	for _, hm := range all { // a reported hostname wins over another host's token
		if hn := strings.ToLower(hm.hs.h.Hostname); hn != "" {
			byName[hn] = hm
		}
	}
	for _, a := range list {
		hm := byName[strings.ToLower(a.Hostname)]
		if h, ok := tagValue(a.Tags, tagHost); ok {
			hm = byHost[h]
		}
		if hm != nil {
			hm.agents = append(hm.agents, a)
		}
	}
	return all
}

func tagValue(tags []string, key string) (string, bool) {
	for _, t := range tags {
		if k, v, ok := strings.Cut(t, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// reset forgets drift and pauses when this orchestrator stops leading: the
// next leader judges afresh.
func (m *agentsManager) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active {
		return
	}
	m.active = false
	clear(m.drift)
	clear(m.paused)
	clear(m.hosts)
	m.driftGauge.Set(0)
	m.pausedGauge.Set(0)
}

// apiError logs a failed Buildkite call; rate limits once a minute.
func (m *agentsManager) apiError(what string, err error, now time.Time) {
	var rl *buildkite.RateLimitError
	if errors.As(err, &rl) {
		m.mu.Lock()
		quiet := now.Sub(m.lastRL) < time.Minute
		if !quiet {
			m.lastRL = now
		}
		m.mu.Unlock()
		if !quiet {
			m.log.Warn(what+": Buildkite rate limit; trying again next pass", "reset_in", rl.Reset)
		}
		return
	}
	var ae *buildkite.APIError
	if errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403) {
		m.log.Error(what+": the Buildkite token lacks a scope (read_agents; write_agents for buildkite.pause)", "err", err)
		return
	}
	m.log.Warn(what+" failed", "err", err)
}

// hostAgents is what the read API shows of one host.
func (m *agentsManager) hostAgents(host string) (drift bool, since time.Time, reason events.DriftReason, paused bool) {
	if m == nil {
		return false, time.Time{}, "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.drift[host]; d != nil && d.flagged {
		drift, since, reason = true, d.since, d.reason
	}
	return drift, since, reason, m.hosts[host]
}

// initAgents sets up the drift check and the pause lever when Buildkite's
// agents API is at hand (WithBuildkiteAgents, or bk itself) and the listing
// is not turned off.
func (o *Orchestrator) initAgents(bk builds.Buildkite) error {
	api := o.opts.agents
	if a, ok := bk.(BuildkiteAgents); ok && api == nil {
		api = a
	}
	if api == nil || o.cfg.AgentsInterval < 0 {
		if o.cfg.Pause {
			return fmt.Errorf("%w: buildkite.pause needs the Buildkite API (buildkite.org and a token)", ErrInvalidOption)
		}
		return nil
	}
	m, err := newAgentsManager(api, o.cfg, o.log, o.reg, func(d events.TagDrift) {
		o.publish(context.Background(), o.subj.Drift(), events.TypeTagDrift, d.Host, d)
	})
	if err != nil {
		return fmt.Errorf("%w: metrics: %w", ErrInvalidOption, err)
	}
	o.agents = m
	return nil
}
