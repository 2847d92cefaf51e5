package levers

import (
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// driftRec is one host's open disagreement.
type driftRec struct {
	since     time.Time
	flagged   bool
	reason    events.DriftReason
	reported  []string
	buildkite []string
	agents    []string
}

// judgeDrift compares a host's reported tags with its agents. decided is
// false when no agent can be judged: all are busy (a running job holds the
// old tags until agentd's restart) or stopping.
func judgeDrift(reported []string, agents []buildkite.AgentInfo) (reason events.DriftReason, bk []string, decided bool) {
	if len(agents) == 0 {
		return events.DriftNoAgent, nil, true
	}
	want := make(map[string]bool, len(reported))
	for _, t := range reported {
		want[t] = true
	}
	for _, a := range agents {
		if a.Busy || (a.ConnectionState != "" && a.ConnectionState != "connected") {
			continue
		}
		decided = true
		have := make(map[string]bool, len(a.Tags))
		differ := false
		for _, t := range a.Tags {
			have[t] = true
			if k, _, _ := strings.Cut(t, "="); events.IsComputedTagKey(k) && !want[t] {
				differ = true
			}
		}
		for _, t := range reported {
			differ = differ || !have[t]
		}
		if differ {
			return events.DriftTagsDiffer, a.Tags, true
		}
	}
	return "", nil, decided
}

// checkDrift updates every host's drift record and the gauge, publishing
// flagged and ended disagreements.
func (m *Manager) checkDrift(matches []*hostMatch, now time.Time) {
	var out []events.TagDrift
	m.mu.Lock()
	seen := make(map[string]bool, len(matches))
	for _, hm := range matches {
		seen[hm.host] = true
		tags := hm.hs.BuildkiteTags
		if len(tags) == 0 || hm.stale {
			out = m.endDrift(hm.host, now, out)
			continue
		}
		reason, bk, decided := judgeDrift(tags, hm.agents)
		if !decided {
			continue // keep what we know until an agent can be judged
		}
		if reason == "" {
			out = m.endDrift(hm.host, now, out)
			continue
		}
		d := m.drift[hm.host]
		if d == nil {
			d = &driftRec{since: now}
			m.drift[hm.host] = d
		}
		d.reason, d.reported, d.buildkite = reason, slices.Clone(tags), slices.Clone(bk)
		d.agents = d.agents[:0]
		for _, a := range hm.agents {
			d.agents = append(d.agents, a.Name)
		}
		if !d.flagged && now.Sub(d.since) >= m.cfg.DriftGrace {
			d.flagged = true
			out = append(out, d.event(hm.host, true, now))
			m.log.Warn("Buildkite agent tags disagree with the host's report", "host", hm.host, "reason", string(reason),
				"since", d.since, "reported", strings.Join(tags, ","), "buildkite", strings.Join(bk, ","))
		}
	}
	for host := range m.drift {
		if !seen[host] {
			out = m.endDrift(host, now, out)
		}
	}
	n := 0
	for _, d := range m.drift {
		if d.flagged {
			n++
		}
	}
	m.driftGauge.Set(float64(n))
	m.mu.Unlock()
	for _, ev := range out {
		m.deps.Publish(ev)
	}
}

// endDrift closes a host's record (m.mu held), adding an event if it was flagged.
func (m *Manager) endDrift(host string, now time.Time, out []events.TagDrift) []events.TagDrift {
	d := m.drift[host]
	if d == nil {
		return out
	}
	delete(m.drift, host)
	if !d.flagged {
		return out
	}
	m.log.Info("Buildkite agent tags agree with the host's report again", "host", host, "since", d.since)
	return append(out, d.event(host, false, now))
}

func (d *driftRec) event(host string, drift bool, now time.Time) events.TagDrift {
	return events.TagDrift{Host: host, Drift: drift, Since: d.since.UTC(), Reason: d.reason,
		Reported: d.reported, Buildkite: d.buildkite, Agents: slices.Clone(d.agents), At: now.UTC()}
}
