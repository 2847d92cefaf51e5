package levers

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
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

// MaxCallsPerPass bounds pause and resume calls in one pass, so a
// fleet-wide flip stays inside Buildkite's REST rate limit; the rest follow
// in the next passes.
const MaxCallsPerPass = 50

// Deps is what the levers ask of the orchestrator's core.
type Deps struct {
	// Now is the clock.
	Now func() time.Time
	// Hosts lists every known host as of now.
	Hosts func(now time.Time) []Host
	// Leading reports whether this orchestrator leads and has caught up.
	Leading func() bool
	// TermContext is the current term's context (nil outside a term): calls
	// end when it does.
	TermContext func() context.Context
	// Publish publishes a drift event.
	Publish func(events.TagDrift)
}

// Manager is the drift check and the pause lever (docs/routing.md): every
// Interval the leader lists Buildkite's agents, matches them to hosts,
// flags hosts whose tags disagree with their report for longer than
// DriftGrace, and pauses the agents of hosts ready for no release.
type Manager struct {
	api  BuildkiteAgents
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu     sync.Mutex
	drift  map[string]*driftRec // host → an open disagreement
	paused map[string]pauseRec  // agent ID → a pause this leader made
	hosts  map[string]bool      // host → its agents are paused by us
	active bool                 // the previous pass ran as the leader
	lastRL time.Time            // last rate-limit log line

	driftGauge  prometheus.Gauge
	pausedGauge prometheus.Gauge
	actions     *prometheus.CounterVec
}

// New is the levers over api, registering their metrics with reg.
func New(api BuildkiteAgents, cfg Config, deps Deps, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	m := &Manager{api: api, cfg: cfg, deps: deps, log: log,
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
	for _, action := range []string{"pause", "resume"} { // exported from the start, at zero
		m.actions.WithLabelValues(action, "ok")
		m.actions.WithLabelValues(action, "error")
	}
	return m, nil
}

// Host is what the levers read of one host: its name and reported
// hostname (to match agents), its reported Buildkite tags and releases, and
// whether its report is stale.
type Host struct {
	Name, Hostname string
	BuildkiteTags  []string
	Releases       []events.ReleaseStatus
	Stale          bool
}

// hostMatch is one host with its Buildkite agents.
type hostMatch struct {
	host   string
	hs     Host
	stale  bool
	agents []buildkite.AgentInfo
}

// Run lists agents every Interval until ctx ends; on a nil Manager (no
// drift check, no pause lever) it returns at once.
func (m *Manager) Run(ctx context.Context) error {
	if m == nil {
		return nil // neither runs
	}
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		m.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass is one drift check and pause pass. Only the leader, once caught
// up, asks Buildkite; a follower forgets what it knew.
func (m *Manager) Pass(ctx context.Context) {
	if !m.deps.Leading() {
		m.reset()
		return
	}
	m.mu.Lock()
	m.active = true
	m.mu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, max(m.cfg.Interval, time.Minute))
	defer cancel()
	// Calls end the moment the term does (the lease is lost mid-pass).
	if tctx := m.deps.TermContext(); tctx != nil {
		defer context.AfterFunc(tctx, cancel)()
	}
	list, err := m.api.ListAgents(lctx)
	if err != nil {
		m.apiError("list Buildkite agents", err, m.deps.Now())
		return
	}
	now := m.deps.Now()
	matches := m.matchAgents(list, now)
	m.checkDrift(matches, now)
	if m.cfg.Pause {
		m.pausePass(lctx, matches, now)
	}
}

// matchAgents gives every known host its agents: by the vmfleet-host tag,
// else by hostname (the host's reported hostname or its token, ignoring case).
func (m *Manager) matchAgents(list []buildkite.AgentInfo, now time.Time) []*hostMatch {
	var all []*hostMatch
	for _, h := range m.deps.Hosts(now) {
		all = append(all, &hostMatch{host: h.Name, hs: h})
	}
	slices.SortFunc(all, func(a, b *hostMatch) int { return strings.Compare(a.host, b.host) })
	byHost := make(map[string]*hostMatch, len(all))
	byName := make(map[string]*hostMatch, 2*len(all))
	for _, hm := range all {
		hm.stale = hm.hs.Stale
		byHost[hm.host] = hm
		byName[strings.ToLower(hm.host)] = hm
	}
	for _, hm := range all { // a reported hostname wins over another host's token
		if hn := strings.ToLower(hm.hs.Hostname); hn != "" {
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
func (m *Manager) reset() {
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
func (m *Manager) apiError(what string, err error, now time.Time) {
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

// Host is what the read API shows of one host; a nil Manager shows nothing.
func (m *Manager) Host(host string) (drift bool, since time.Time, reason events.DriftReason, paused bool) {
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
