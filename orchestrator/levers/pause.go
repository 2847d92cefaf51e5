package levers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// pauseRec is a pause this leader made.
type pauseRec struct {
	host string
	// refreshAt is when the pause is renewed (resume, then pause again)
	// before Buildkite's timeout lifts it: three quarters of the timeout.
	refreshAt time.Time
}

// pauseWant is what the pause lever wants for a host.
type pauseWant int

const (
	pauseLeave  pauseWant = iota // stale or no release in the report: not ours to judge
	pauseHold                    // ready for no release
	pauseResume                  // ready for at least one
)

func wantFor(hm *hostMatch) pauseWant {
	rels := hm.hs.Releases
	if hm.stale || len(rels) == 0 {
		return pauseLeave
	}
	for _, st := range rels {
		if st.Ready {
			return pauseResume
		}
	}
	return pauseHold
}

// pausePass pauses the connected agents of hosts ready for no release and
// resumes the agents it paused once their host is ready again. An agent it
// did not pause is never resumed: an operator's pause stays. At most
// MaxCallsPerPass calls; a rate limit ends the pass.
func (m *Manager) pausePass(ctx context.Context, matches []*hostMatch, now time.Time) {
	m.forgetGone(matches)
	budget := MaxCallsPerPass
	for _, hm := range matches {
		want := wantFor(hm)
		for _, a := range hm.agents {
			if budget <= 0 {
				return
			}
			m.mu.Lock()
			rec, ours := m.paused[a.ID]
			m.mu.Unlock()
			var err error
			switch {
			case want == pauseHold && (!ours || !now.Before(rec.refreshAt)) && a.ConnectionState == "connected":
				budget--
				err = m.pause(ctx, hm, a, ours, now)
			case want == pauseResume && ours:
				budget--
				err = m.resume(ctx, hm.host, a)
			}
			var rl *buildkite.RateLimitError
			if errors.As(err, &rl) {
				m.apiError("pause lever", err, now)
				return
			}
			if err != nil {
				m.apiError("pause lever", err, now)
			}
		}
	}
}

// forgetGone drops pauses of agents Buildkite no longer lists (they
// disconnected; a pause does not outlive its agent) and recounts.
func (m *Manager) forgetGone(matches []*hostMatch) {
	listed := map[string]bool{}
	for _, hm := range matches {
		for _, a := range hm.agents {
			listed[a.ID] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.paused {
		if !listed[id] {
			delete(m.paused, id)
		}
	}
	m.recountLocked()
}

func (m *Manager) pause(ctx context.Context, hm *hostMatch, a buildkite.AgentInfo, refresh bool, now time.Time) error {
	if refresh {
		if err := m.api.ResumeAgent(ctx, a.ID); err != nil && !errors.Is(err, buildkite.ErrAgentNotPaused) {
			m.actions.WithLabelValues("resume", "error").Inc()
			return err
		}
	}
	var rels []string
	for _, st := range hm.hs.Releases {
		rels = append(rels, st.Release)
	}
	note := fmt.Sprintf("vmfleet: %s has no ready VM image (macOS %s)", hm.host, strings.Join(rels, ", "))
	err := m.api.PauseAgent(ctx, a.ID, note, m.cfg.PauseTimeout)
	if err != nil && !errors.Is(err, buildkite.ErrAgentAlreadyPaused) {
		m.actions.WithLabelValues("pause", "error").Inc()
		return err
	}
	m.actions.WithLabelValues("pause", "ok").Inc()
	m.mu.Lock()
	m.paused[a.ID] = pauseRec{host: hm.host, refreshAt: now.Add(m.cfg.PauseTimeout * 3 / 4)}
	m.recountLocked()
	m.mu.Unlock()
	if !refresh {
		m.log.Info("paused Buildkite agent: host ready for no release", "host", hm.host, "agent", a.Name, "timeout", m.cfg.PauseTimeout)
	}
	return nil
}

func (m *Manager) resume(ctx context.Context, host string, a buildkite.AgentInfo) error {
	err := m.api.ResumeAgent(ctx, a.ID)
	if err != nil && !errors.Is(err, buildkite.ErrAgentNotPaused) {
		m.actions.WithLabelValues("resume", "error").Inc()
		return err
	}
	m.actions.WithLabelValues("resume", "ok").Inc()
	m.mu.Lock()
	delete(m.paused, a.ID)
	m.recountLocked()
	m.mu.Unlock()
	m.log.Info("resumed Buildkite agent: host ready", "host", host, "agent", a.Name)
	return nil
}

// recountLocked refreshes the per-host view and the gauge (m.mu held).
func (m *Manager) recountLocked() {
	clear(m.hosts)
	for _, r := range m.paused {
		m.hosts[r.host] = true
	}
	m.pausedGauge.Set(float64(len(m.paused)))
}
