package builds

import (
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/internal/queuepos"
)

// What holds a wanted build back (Queued.Cap).
const (
	CapMaxConcurrent = "builds.max_concurrent"
	CapMaxPerHost    = "builds.max_per_host"
	// CapRateLimit: Buildkite answered 429; no call before Queued.Until.
	CapRateLimit = "buildkite_rate_limit"
)

// queuedBuild is one wanted key held back, since when and by what.
type queuedBuild struct {
	since time.Time
	host  string
	cap   string
}

// Queued is a wanted build that waits: for a free slot under Cap (Limit
// live builds), Position of Of among the keys waiting on the same cap (for
// builds.max_per_host: on the same host), the longest waiting first; or
// for Buildkite's rate limit to end at Until.
type Queued struct {
	Key      string    `json:"key"`
	Host     string    `json:"host,omitempty"`
	Cap      string    `json:"cap"`
	Limit    int       `json:"limit,omitempty"`
	Since    time.Time `json:"since"`
	Position int       `json:"position,omitempty"`
	Of       int       `json:"of,omitempty"`
	Until    time.Time `json:"until,omitzero"`
}

// queueLocked notes that w's create is held back at now (by the rate limit
// when gated, else by a cap). Caller holds m.mu.
func (m *Manager) queueLocked(w *Want, now time.Time, gated bool) {
	c := CapRateLimit
	switch {
	case gated:
	case m.live+m.reserved >= m.cfg.MaxBuilds:
		c = CapMaxConcurrent
	default:
		c = CapMaxPerHost
	}
	q := m.queued[w.Key]
	if q == nil {
		q = &queuedBuild{since: now}
		m.queued[w.Key] = q
	}
	q.host, q.cap = w.Host, c
}

// Queue returns, by record key, every wanted build a cap or Buildkite's
// rate limit held back in the last pass: a read-only view for the API and
// the dashboard (queued is not a record state).
func (m *Manager) Queue() map[string]Queued {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Queued, len(m.queued))
	groups := map[string][]string{} // cap (and host) → keys
	for key, q := range m.queued {
		v := Queued{Key: key, Host: q.host, Cap: q.cap, Since: q.since}
		group := q.cap
		switch q.cap {
		case CapMaxConcurrent:
			v.Limit = m.cfg.MaxBuilds
		case CapMaxPerHost:
			v.Limit, group = m.cfg.MaxBuildsPerHost, q.cap+"\x00"+q.host
		case CapRateLimit:
			v.Until = m.gate
		}
		out[key] = v
		groups[group] = append(groups[group], key)
	}
	since := func(k string) time.Time { return m.queued[k].since }
	for _, keys := range groups {
		queuepos.Number(keys, since, func(k string, pos, of int) {
			v := out[k]
			v.Position, v.Of = pos, of
			out[k] = v
		})
	}
	return out
}
